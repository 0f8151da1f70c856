"""Book 8.4 (VAE on MNIST) and 8.5 (DCGAN on CIFAR-10 frogs) end to end with debug=fast on tiny fake data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from cli_runner import run_dirs, run_dlbook
from fakes import write_cifar_archive, write_mnist_npz
from PIL import Image


def _single_run(tmp_path: Path, experiment: str) -> Path:
    (run,) = run_dirs(tmp_path / "outputs", experiment)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "completed", status
    return run


def test_vae_experiment(tmp_path):
    mnist = write_mnist_npz(tmp_path / "mnist.npz", n_train=320, n_test=64)
    result = run_dlbook(
        "train",
        "experiment=vae",
        "debug=fast",
        "trainer.max_epochs=3",
        "trainer.max_steps=10",
        f"dataset.path={mnist}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run(tmp_path, "vae")
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(metrics["test"])
    # The model learns (measured: 0.675, 0.615, 0.499 over 3 epochs of 10 steps; test 0.46): the training loss
    # falls by at least 15%, and the test loss is well below ln 2 = 0.693, a decoder that says 0.5 everywhere.
    losses = [float(row["loss"]) for row in csv.DictReader(open(run / "history.csv"))]
    assert len(losses) == 3 and losses[-1] < 0.85 * losses[0], losses
    assert metrics["test"]["loss"] < 0.6
    with Image.open(run / "latent_grid.png") as picture:
        assert picture.size == (420, 420)
    assert (run / "model.keras").is_file()


def test_dcgan_experiment(tmp_path):
    cifar = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz")
    result = run_dlbook("train", "experiment=dcgan", "debug=fast", f"dataset.path={cifar}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run(tmp_path, "dcgan")
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"d_loss", "g_loss"} <= set(metrics["train"]) and "d_loss" in metrics["test"]
    # 3 steps are a smoke run: the verdict says "not comparable" and why, never yes or no.
    assert metrics["reference"]["metric"] == "train.d_loss"
    assert metrics["reference"]["reproduced"] == "not comparable"
    assert metrics["reference"]["reason"].startswith("debug limits (trainer.max_epochs=1, trainer.max_steps=3)")
    samples = sorted(path.name for path in (run / "samples").iterdir())
    assert samples == ["real.png", "step_00003.png"]  # debug=fast: 3 steps, the last one saved
