"""`dlbook train experiment=deep_dream` and `experiment=style_transfer` end to end (random weights, tiny images)."""

from __future__ import annotations

import csv

import numpy as np
from cli_runner import read, run_dirs, run_dlbook
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
