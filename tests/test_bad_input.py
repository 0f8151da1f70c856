"""Bad input ends with a clear message and a non-zero exit, never with a run marked completed."""

from __future__ import annotations

from cli_runner import read, run_dirs, run_dlbook


def test_unknown_experiment_lists_the_valid_ones(tmp_path):
    result = run_dlbook("train", "experiment=imbd", cwd=tmp_path)
    assert result.returncode != 0
    assert "experiment/imbd" in result.stderr
    assert "imdb" in result.stderr and "boston_housing" in result.stderr  # the available options
    assert not (tmp_path / "outputs").exists()


def test_wrong_type_in_an_override_names_key_value_and_what_is_valid(tmp_path):
    result = run_dlbook("train", "trainer.epochs=ten", cwd=tmp_path)
    assert result.returncode == 2
    assert "trainer.epochs='ten' is not valid" in result.stderr
    assert "positive integer" in result.stderr
    assert "Traceback" not in result.stderr
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    status = read(run_dir / "status.json")
    assert status["status"] == "failed" and status["error"]["type"] == "ConfigError"
    assert not (run_dir / "metrics.json").exists()


def test_missing_file_offline_explains_both_ways_out(tmp_path):
    # An unreachable mirror stands for "no network": nothing listens on port 9 of the loopback.
    origin = "http://127.0.0.1:9/imdb.npz"
    result = run_dlbook(
        "train", "experiment=imdb", "debug=fast", f"dataset.origin={origin}", "dataset.file_hash=null", cwd=tmp_path
    )
    assert result.returncode == 2
    message = result.stderr
    assert "imdb" in message and origin in message
    assert "dataset.path=" in message
    assert str(tmp_path / "keras_home" / "datasets" / "imdb.npz") in message
    assert "Traceback" not in message
    (run_dir,) = run_dirs(tmp_path / "outputs", "imdb")
    assert read(run_dir / "status.json")["status"] == "failed"


def test_a_failed_run_never_touches_earlier_runs(tmp_path):
    first = run_dlbook("train", "trainer.epochs=0", cwd=tmp_path)
    second = run_dlbook("train", "trainer.batch_size=-1", cwd=tmp_path)
    assert first.returncode == second.returncode == 2
    runs = run_dirs(tmp_path / "outputs", "boston_housing")
    assert len(runs) == 2
    assert ["trainer.epochs=0" in read(run / "status.json")["error"]["message"] for run in runs] == [True, False]
