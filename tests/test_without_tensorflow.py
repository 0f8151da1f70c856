"""dlbook's TensorFlow-free core: `backend=jax` where TensorFlow is not installed.

Each run's Python has tests/without_tensorflow/ on its path, whose sitecustomize hides TensorFlow as a JAX
user's install lacks it (find_spec is None, the import fails). The array experiments must still train,
write their run directory and their TensorBoard scalars; what needs TensorFlow says so in one paragraph.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from cli_runner import read, run_dirs, run_dlbook, without_tensorflow
from fake_images import write_split_tree
from fake_text import SMALL_JENA, write_jena_csv
from fakes import write_imdb_npz

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


def _scalars(folder: Path, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    assert tag in accumulator.Tags()["tensors"], accumulator.Tags()
    return [float(tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]


def test_the_hidden_tensorflow_cannot_be_imported(tmp_path):
    import subprocess
    import sys

    code = "import importlib.util, sys; print(importlib.util.find_spec('tensorflow')); import tensorflow"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **without_tensorflow()}, capture_output=True, text=True
    )
    assert done.stdout.strip() == "None" and "ModuleNotFoundError" in done.stderr


def test_mnist_dense_on_jax_without_tensorflow_trains_and_writes_tensorboard_scalars(tmp_path):
    arguments = ["experiment=mnist_dense", "dataset.source=bundled", "backend=jax", "trainer.epochs=3"]
    arguments += ["trainer.max_steps=5", "trainer.batch_size=64"]
    result = run_dlbook("train", *arguments, cwd=tmp_path, env=without_tensorflow())
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "outputs", "mnist_dense")
    assert read(run / "status.json")["status"] == "completed"
    assert read(run / "provenance.json")["backend"]["name"] == "jax"
    metrics = read(run / "metrics.json")
    assert metrics["test"]["accuracy"] > 0.2  # ten classes: chance is 0.1
    losses = _scalars(run / "tensorboard" / "fit" / "train", "epoch_loss")
    assert len(losses) == 3 and losses[-1] < losses[0]  # one scalar an epoch, and the model learns
    # The HParams session, written with the tensorboard package alone: read back as TensorBoard reads it.
    from results.test_hparams import read_hparams

    hyperparameters, _, status, finals = read_hparams(run)
    assert status == "STATUS_SUCCESS" and hyperparameters["backend"] == "jax"
    assert finals["test.accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert "HParams were not written" not in result.stderr


def test_imdb_multi_hot_batches_without_tensorflow_are_the_tf_data_ones(tmp_path):
    """The NumPy multi-hot encoder gives tf.data's vectors; the IMDB network trains on them without TensorFlow."""
    from dlbook.datasets.io.examples import RaggedSequences
    from dlbook.datasets.io.sequences import multi_hot_encoder

    batch = RaggedSequences.from_lists([[1, 5, 5, 9], [], [0, 12, 3]])
    encode = multi_hot_encoder(10)
    expected = np.zeros((3, 10), dtype=np.float32)
    expected[0, [1, 5, 9]] = 1.0
    expected[2, [0, 3]] = 1.0
    np.testing.assert_array_equal(encode.numpy(batch), expected)

    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=10_400, n_test=200)
    arguments = ["experiment=imdb", f"dataset.path={data}", "backend=jax", "debug=fast"]
    result = run_dlbook("train", *arguments, cwd=tmp_path, env=without_tensorflow())
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "outputs", "imdb")
    assert read(run / "status.json")["status"] == "completed"


def test_jena_windows_without_tensorflow_train_and_beat_nothing_less_than_a_finite_loss(tmp_path):
    data = write_jena_csv(tmp_path / "jena.csv", rows=12_000)
    small = [*SMALL_JENA, "trainer.steps_per_epoch=10", "trainer.epochs=2"]
    arguments = ["experiment=jena_gru", f"dataset.path={data}", "backend=jax", *small]
    result = run_dlbook("train", *arguments, cwd=tmp_path, env=without_tensorflow())
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "outputs", "jena_gru")
    metrics = read(run / "metrics.json")
    assert read(run / "status.json")["status"] == "completed"
    assert 0 < metrics["val"]["loss"] < 1.5  # normalised MAE: a model predicting the mean scores about 0.8


def test_an_image_pipeline_without_tensorflow_says_what_to_install(tmp_path):
    images = write_split_tree(tmp_path / "images", per_class_per_split=2)
    arguments = ["experiment=cats_vs_dogs_scratch", f"dataset.path={images}", "backend=jax", "debug=fast"]
    result = run_dlbook("train", *arguments, "++dataset.image_size=[48,48]", cwd=tmp_path, env=without_tensorflow())
    assert result.returncode == 2, result.stderr[-3000:]
    assert "written with tf.data" in result.stderr and "pip install tensorflow" in result.stderr
    assert "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "cats_vs_dogs_scratch")
    assert read(run / "status.json")["status"] == "failed"


def test_the_default_backend_without_tensorflow_names_the_installed_ones(tmp_path):
    result = run_dlbook("train", "debug=fast", cwd=tmp_path, env=without_tensorflow())
    assert result.returncode == 2
    message = result.stderr.split("dlbook: error: ")[-1]
    assert "backend=tensorflow is not valid here: the tensorflow package is not installed" in message
    assert "choose an installed one: backend=jax" in message and "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run / "status.json")["status"] == "failed"
