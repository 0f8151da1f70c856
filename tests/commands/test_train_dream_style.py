"""`dlbook train experiment=deep_dream` and `experiment=style_transfer` end to end, on every installed backend.

Random weights and tiny images; on JAX and PyTorch the loss must move the way the book's method moves it.
"""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest
from cli_runner import read, run_dirs, run_dlbook, without_tensorflow
from PIL import Image


def test_deep_dream_and_style_transfer_runs(tmp_path):
    # DeepDream on a photo of one's own: 150x150, the smallest that 3 octaves x 1.4 allow (76 px >= 75).
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)).save(photo)
    dream = run_dlbook("train", "experiment=deep_dream", "debug=fast", "++weights=null", f"image={photo}", cwd=tmp_path)
    assert dream.returncode == 0, dream.stderr[-3000:]
    style = run_dlbook(
        "train",
        "experiment=style_transfer",
        "debug=fast",
        "++weights=null",
        "task.image_height=64",
        "task.maxfun=5",
        cwd=tmp_path,
    )
    assert style.returncode == 0, style.stderr[-3000:]

    (dream_dir,) = run_dirs(tmp_path / "outputs", "deep_dream")
    assert read(dream_dir / "status.json")["status"] == "completed"
    metrics = read(dream_dir / "metrics.json")
    assert metrics["dream"]["octaves"] == 3 and metrics["reference"]["metric"] == "dream.final_loss"
    for name in ("dream_at_scale_76x76.png", "dream_at_scale_107x107.png", "final_dream.png", "curves.png"):
        assert (dream_dir / name).is_file(), name
    rows = list(csv.DictReader((dream_dir / "history.csv").open()))
    assert [row["phase"] for row in rows] == ["octave_1"] * 3 + ["octave_2"] * 3 + ["octave_3"] * 3
    assert not (dream_dir / "model.keras").exists()

    (style_dir,) = run_dirs(tmp_path / "outputs", "style_transfer")
    assert read(style_dir / "status.json")["status"] == "completed"
    metrics = read(style_dir / "metrics.json")["style_transfer"]
    assert metrics["iterations"] == 3 and metrics["loss_ratio"] < 1
    assert Image.open(style_dir / "style_transfer_result_at_iteration_2.png").size == (96, 64)
    rows = list(csv.DictReader((style_dir / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert {"loss", "content_loss", "style_loss", "tv_loss"} <= set(rows[0])


BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} not installed"))
    for name in ("jax", "torch")
]


def _completed_on(run_dir, backend):
    assert read(run_dir / "status.json")["status"] == "completed"
    assert read(run_dir / "provenance.json")["backend"]["name"] == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_deep_dream_runs_on_other_backends(tmp_path, backend):
    # 2 octaves (78 and 110 pixels): the ascent at two image sizes, as with the book's 3, in less time.
    # On JAX without TensorFlow, as a JAX-only install runs it (TensorBoard images through the tensorboard package).
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)).save(photo)
    dream = run_dlbook(
        "train",
        "experiment=deep_dream",
        f"backend={backend}",
        "debug=fast",
        "++weights=null",
        f"image={photo}",
        "task.image_height=110",
        "task.octaves=2",
        cwd=tmp_path,
        env=without_tensorflow() if backend == "jax" else None,
    )
    assert dream.returncode == 0, dream.stderr[-3000:]
    (dream_dir,) = run_dirs(tmp_path / "outputs", "deep_dream")
    _completed_on(dream_dir, backend)
    assert list((dream_dir / "tensorboard").rglob("events.out.tfevents.*")), "no TensorBoard event file"
    assert Image.open(dream_dir / "final_dream.png").size == (110, 110)
    assert (dream_dir / "dream_at_scale_78x78.png").is_file()
    rows = list(csv.DictReader((dream_dir / "history.csv").open()))
    for octave in ("octave_1", "octave_2"):
        losses = [float(row["loss"]) for row in rows if row["phase"] == octave]
        # Gradient ascent: every step of an octave raises the dream loss.
        assert len(losses) == 3 and losses[0] < losses[1] < losses[2], (octave, losses)
    assert read(dream_dir / "metrics.json")["dream"]["final_loss"] == pytest.approx(losses[-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_style_transfer_runs_on_other_backends(tmp_path, backend):
    style = run_dlbook(
        "train",
        "experiment=style_transfer",
        f"backend={backend}",
        "debug=fast",
        "++weights=null",
        "task.image_height=32",
        "task.maxfun=5",
        cwd=tmp_path,
    )
    assert style.returncode == 0, style.stderr[-3000:]
    (style_dir,) = run_dirs(tmp_path / "outputs", "style_transfer")
    _completed_on(style_dir, backend)
    assert Image.open(style_dir / "style_transfer_result_at_iteration_2.png").size == (48, 32)
    rows = list(csv.DictReader((style_dir / "history.csv").open()))
    losses = [float(row["loss"]) for row in rows]
    # L-BFGS lowers the loss at every iteration; the parts add up to it.
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2], losses
    for row in rows:
        parts = float(row["content_loss"]) + float(row["style_loss"]) + float(row["tv_loss"])
        assert parts == pytest.approx(float(row["loss"]), rel=1e-4)
    assert read(style_dir / "metrics.json")["style_transfer"]["loss_ratio"] < 1
