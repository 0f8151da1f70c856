"""`dlbook evaluate run=<dir>` reloads the saved model and reproduces the run's test metrics."""

from __future__ import annotations

import pytest
from cli_runner import read, run_dirs, run_dlbook
from fakes import write_imdb_npz


def test_evaluate_round_trip_equals_training_metrics(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=10_600, n_test=300)
    trained = run_dlbook("train", "experiment=imdb", "debug=fast", f"dataset.path={data}", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "imdb")
    hydra_config = (run_dir / ".hydra" / "config.yaml").read_text()

    result = run_dlbook("evaluate", f"run={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = read(run_dir / "eval_metrics.json")["test"]
    at_training = read(run_dir / "metrics.json")["test"]
    assert evaluated.keys() == at_training.keys()
    for name, value in at_training.items():
        assert evaluated[name] == pytest.approx(value, rel=1e-5, abs=1e-6)
    assert "evaluate" in result.stdout and "accuracy" in result.stdout
    # The run's own training config is left as it was.
    assert (run_dir / ".hydra" / "config.yaml").read_text() == hydra_config
    assert read(run_dir / "status.json")["status"] == "completed"


def test_evaluate_refuses_a_missing_run_directory(tmp_path):
    missing = tmp_path / "outputs" / "imdb" / "nope"
    result = run_dlbook("evaluate", f"run={missing}", cwd=tmp_path)
    assert result.returncode != 0
    assert "no such directory" in result.stderr and str(missing) in result.stderr
    assert not missing.exists()


def test_evaluate_refuses_a_directory_that_is_not_a_run(tmp_path):
    result = run_dlbook("evaluate", f"run={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a completed dlbook run" in result.stderr
    assert "Traceback" not in result.stderr
