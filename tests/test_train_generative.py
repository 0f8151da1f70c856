"""Book 8.4 (VAE on MNIST) and 8.5 (DCGAN on CIFAR-10 frogs) end to end with debug=fast on tiny fake data."""

from __future__ import annotations

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
    mnist = write_mnist_npz(tmp_path / "mnist.npz", n_train=64, n_test=32)
    result = run_dlbook("train", "experiment=vae", "debug=fast", f"dataset.path={mnist}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run(tmp_path, "vae")
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(metrics["test"])
    assert 0.0 < metrics["test"]["loss"] < 1.0
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
    assert metrics["reference"]  # judged against train.d_loss
    samples = sorted(path.name for path in (run / "samples").iterdir())
    assert samples == ["real.png", "step_00003.png"]  # debug=fast: 3 steps, the last one saved
