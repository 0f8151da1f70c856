"""The run directory's bookkeeping: status transitions, refusal to reuse a run, history.csv."""

from __future__ import annotations

import csv

import pytest

from dlbook.errors import DlbookError
from dlbook.run.directory import RunDirectory, read_json


def test_status_goes_running_then_completed_with_metrics(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start("imdb")
    assert read_json(run.file("status.json"))["status"] == "running"
    run.complete("imdb", {"test": {"accuracy": 0.88}})
    status = read_json(run.file("status.json"))
    assert status["status"] == "completed" and status["started"] < status["ended"]
    assert read_json(run.file("metrics.json")) == {"test": {"accuracy": 0.88}}


def test_failure_records_the_error(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start("imdb")
    run.fail("imdb", ValueError("bad value"))
    status = read_json(run.file("status.json"))
    assert status["status"] == "failed"
    assert status["error"] == {"type": "ValueError", "message": "bad value"}
    assert not run.file("metrics.json").exists()


def test_a_directory_holding_a_run_is_never_reused(tmp_path):
    first = RunDirectory(tmp_path / "run")
    first.start("imdb")
    first.complete("imdb", {"test": {"accuracy": 0.88}})
    with pytest.raises(DlbookError, match="already holds a run"):
        RunDirectory(tmp_path / "run").start("imdb")
    assert read_json(first.file("status.json"))["status"] == "completed"


def test_history_has_every_phase_and_the_union_of_columns(tmp_path):
    run = RunDirectory(tmp_path)
    run.write_history(
        [
            {"phase": "fit", "epoch": 1, "loss": 0.5, "val_loss": 0.4},
            {"phase": "retrain", "epoch": 1, "loss": 0.45},
        ]
    )
    rows = list(csv.DictReader(open(run.file("history.csv"))))
    assert [row["phase"] for row in rows] == ["fit", "retrain"]
    assert rows[1]["val_loss"] == ""
