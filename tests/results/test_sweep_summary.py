"""Sweep summaries: summary.csv, summary.md and val_loss.png from a sweep's job folders, and `dlbook summarize`."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys

import pytest
import yaml
from cli_runner import run_dlbook
from PIL import Image

from dlbook.cli import main
from dlbook.results.sweep_jobs import SweepDirectoryError
from dlbook.results.sweep_summary import summarize


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_job(sweep, number, overrides, status="completed", metrics=None, history=None, config=None, error=None):
    """A job folder as `dlbook train -m` leaves it; status=None leaves out status.json (not started)."""
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    config = config or {"objective": None, "reference": {"metric": "test.accuracy", "book": 0.88}}
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if status is not None:
        content = {"status": status, "experiment": "imdb", "pid": _dead_pid() if status == "running" else None}
        if error:
            content["error"] = {"type": error, "message": "something went wrong"}
        (job / "status.json").write_text(json.dumps(content))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    if history is not None:
        with open(job / "history.csv", "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    return job


def make_sweep(tmp_path, direction=None):
    sweep = tmp_path / "outputs" / "multirun" / "imdb" / "2026-11-26_10-00-00_000000"
    sweep.mkdir(parents=True)
    sweeper = {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": None}
    if direction is not None:
        sweeper["direction"] = direction
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"sweeper": sweeper}, "name": "imdb"}))
    return sweep


def curve(*losses, phase="fit"):
    return [{"phase": phase, "epoch": epoch, "loss": 0.1, "val_loss": loss} for epoch, loss in enumerate(losses, 1)]


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def figure_labels(path):
    """The line labels that val_loss.png stores in its Description text, in drawing order."""
    return Image.open(path).text["Description"].splitlines()


def test_columns_are_the_overrides_that_vary_and_rows_go_best_first(tmp_path):
    sweep = make_sweep(tmp_path)
    for number, (units, accuracy) in enumerate([(16, 0.87), (32, 0.89), (64, 0.88)]):
        make_job(
            sweep,
            number,
            ["experiment=imdb", f"model.units={units}", "seed=0"],
            metrics={"test": {"accuracy": accuracy}},
            history=curve(0.5, 0.4),
        )
    summary = summarize(sweep)
    rows = read_csv(sweep / "summary.csv")
    assert list(rows[0]) == ["job", "model.units", "test.accuracy", "status", "error", "best"]
    # accuracy is maximised: 32 units first, and it is the one marked best
    assert [row["model.units"] for row in rows] == ["32", "64", "16"]
    assert [row["best"] for row in rows] == ["yes", "", ""]
    assert float(rows[0]["test.accuracy"]) == pytest.approx(0.89)
    assert summary.direction == "maximize" and summary.best.name == "1"


def test_losses_and_errors_are_minimized_and_objective_wins_over_the_reference(tmp_path):
    sweep = make_sweep(tmp_path)
    config = {"objective": "val.loss", "reference": {"metric": "test.accuracy"}}
    for number, loss in enumerate([0.30, 0.25, 0.40]):
        make_job(
            sweep, number, [f"seed={number}"], metrics={"val": {"loss": loss}, "test": {"accuracy": 0.5}}, config=config
        )
    summary = summarize(sweep)
    assert summary.objective == "val.loss" and summary.direction == "minimize"
    assert [row["seed"] for row in read_csv(sweep / "summary.csv")] == ["1", "0", "2"]
    assert "objective val.loss, minimize (a loss or error metric)" in (sweep / "summary.md").read_text()


def test_jobs_with_different_objectives_name_theirs(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["experiment=imdb"], metrics={"test": {"accuracy": 0.88}})
    make_job(sweep, 1, ["experiment=reuters"], metrics={"test": {"accuracy": 0.78}})
    mae = {"objective": None, "reference": {"metric": "test.mae"}}
    make_job(sweep, 2, ["experiment=boston_housing"], metrics={"test": {"mae": 2.6}}, config=mae)
    summarize(sweep)
    rows = read_csv(sweep / "summary.csv")
    assert list(rows[0]) == ["job", "experiment", "objective", "metric", "status", "error", "best"]
    # ranked by the most common objective (accuracy, maximised); the other metric comes after
    assert [(row["experiment"], row["metric"], row["best"]) for row in rows] == [
        ("imdb", "test.accuracy", "yes"),
        ("reuters", "test.accuracy", ""),
        ("boston_housing", "test.mae", ""),
    ]


@pytest.mark.parametrize("direction", ["maximize", ["maximize"], "StudyDirection.MAXIMIZE"])
def test_the_sweepers_direction_in_multirun_yaml_comes_first(tmp_path, direction):
    sweep = make_sweep(tmp_path, direction=direction)
    config = {"objective": "val.loss"}
    for number, loss in enumerate([0.30, 0.25]):
        make_job(sweep, number, [f"seed={number}"], metrics={"val": {"loss": loss}}, config=config)
    summary = summarize(sweep)
    assert summary.direction == "maximize" and summary.direction_source == "the sweeper's direction"
    assert [row["seed"] for row in read_csv(sweep / "summary.csv")] == ["0", "1"]


def test_failed_pruned_interrupted_and_not_started_jobs_have_rows(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}})
    make_job(sweep, 1, ["seed=1"], status="failed", error="DatasetUnavailableError")
    make_job(sweep, 2, ["seed=2"], status="running")  # its process is gone
    make_job(sweep, 3, ["seed=3"], status=None)
    make_job(sweep, 4, ["seed=4"], status="pruned")
    # A better value from a job that did not complete is listed, but never marked best.
    make_job(sweep, 5, ["seed=5"], status="failed", error="ValueError", metrics={"test": {"accuracy": 0.9}})
    (sweep / "10").mkdir()  # a folder made for a job that never wrote anything
    summary = summarize(sweep)
    rows = {row["job"]: row for row in read_csv(sweep / "summary.csv")}
    assert set(rows) == {"0", "1", "2", "3", "4", "5", "10"}
    assert rows["1"]["status"] == "failed" and rows["1"]["error"] == "DatasetUnavailableError"
    assert rows["2"]["status"] == "interrupted"
    assert rows["3"]["status"] == "not started" and rows["10"]["status"] == "not started"
    assert rows["4"]["status"] == "pruned"
    assert rows["0"]["best"] == "yes" and rows["5"]["best"] == ""
    assert [row["job"] for row in read_csv(sweep / "summary.csv")][:2] == ["5", "0"]
    assert summary.counts == {"completed": 1, "failed": 2, "pruned": 1, "interrupted": 1, "not started": 2}
    headline = (sweep / "summary.md").read_text().splitlines()[0]
    assert headline == (
        "Sweep imdb/2026-11-26_10-00-00_000000: objective test.accuracy, maximize (not a loss or error metric); "
        "7 jobs: 1 completed, 2 failed, 1 pruned, 1 interrupted, 2 not started."
    )


def test_a_running_job_is_running_while_its_process_lives_and_interrupted_once_the_sweep_ended(tmp_path):
    sweep = make_sweep(tmp_path)
    job = make_job(sweep, 0, ["seed=0"], status="running")
    (job / "status.json").write_text(json.dumps({"status": "running", "pid": os.getpid()}))
    assert summarize(sweep).jobs[0].status == "running"
    assert summarize(sweep, sweep_finished=True).jobs[0].status == "interrupted"


def test_summary_md_is_a_markdown_table_under_its_headline(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["model.units=16"], metrics={"test": {"accuracy": 0.876543}})
    make_job(sweep, 1, ["model.units=32"], status="failed", error="ValueError")
    summarize(sweep)
    lines = (sweep / "summary.md").read_text().splitlines()
    assert lines[0].startswith("Sweep imdb/2026-11-26_10-00-00_000000: objective test.accuracy, maximize")
    assert lines[1] == ""
    assert lines[2] == "| job | model.units | test.accuracy | status | error | best |"
    assert lines[3] == "|---|---|---|---|---|---|"
    assert lines[4] == "| 0 | 16 | 0.8765 | completed |  | yes |"
    assert lines[5] == "| 1 | 32 |  | failed | ValueError |  |"


def test_val_loss_png_has_one_line_per_job_from_its_first_fit_with_val_loss(tmp_path):
    sweep = make_sweep(tmp_path)
    kfold = curve(0.9, 0.8, phase="fold_1") + curve(0.7, 0.6, phase="fold_2")
    retrain = [{"phase": "retrain", "epoch": 1, "loss": 0.5, "val_loss": ""}]
    make_job(sweep, 0, ["experiment=a"], metrics={"test": {"accuracy": 0.8}}, history=retrain + kfold)
    make_job(sweep, 1, ["experiment=b"], metrics={"test": {"accuracy": 0.9}}, history=curve(0.5, 0.4, 0.45))
    make_job(sweep, 2, ["experiment=c"], status="failed", error="ValueError")  # no history.csv
    summary = summarize(sweep)
    assert summary.figure == sweep / "val_loss.png"
    assert figure_labels(sweep / "val_loss.png") == ["experiment=a", "experiment=b"]
    curves = {job.label: job.curve for job in summary.jobs}
    assert curves["experiment=a"] == ([1, 2], [0.9, 0.8])
    assert curves["experiment=b"] == ([1, 2, 3], [0.5, 0.4, 0.45])


def test_no_figure_when_no_job_has_a_validation_loss(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(
        sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}}, history=[{"phase": "fit", "epoch": 1, "loss": 1}]
    )
    make_job(sweep, 1, ["seed=1"], status=None)
    (sweep / "val_loss.png").write_bytes(b"an older figure")
    assert summarize(sweep).figure is None
    assert not (sweep / "val_loss.png").exists()
    assert (sweep / "summary.csv").exists() and (sweep / "summary.md").exists()


def test_a_sweep_that_crashed_halfway_is_summarized(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}}, history=curve(0.5))
    job = make_job(sweep, 1, ["seed=1"], status="running")
    (job / "metrics.json").write_text('{"test": {"accur')  # cut off mid-write
    (sweep / "2" / ".hydra").mkdir(parents=True)  # composed, never started: no overrides.yaml yet
    summary = summarize(sweep)
    assert [(job.name, job.status) for job in summary.jobs] == [
        ("0", "completed"),
        ("1", "interrupted"),
        ("2", "not started"),
    ]
    assert summary.varying == ["seed"]


def test_not_a_sweep_directory_says_what_to_give(tmp_path):
    with pytest.raises(SweepDirectoryError, match="no such directory"):
        summarize(tmp_path / "missing")
    sweep = make_sweep(tmp_path)
    job = make_job(sweep, 0, ["seed=0"])
    with pytest.raises(SweepDirectoryError, match=f"it is job 0 of the sweep {sweep}"):
        summarize(job)
    with pytest.raises(SweepDirectoryError, match=f"it holds 1 sweep, the latest is {sweep}"):
        summarize(sweep.parent)
    single_run = tmp_path / "outputs" / "imdb" / "2026-11-26_10-00-00_000000"
    (single_run / ".hydra").mkdir(parents=True)
    with pytest.raises(SweepDirectoryError, match="it is a single run, not a sweep"):
        summarize(single_run)


def test_summarize_command_exits_2_on_a_bad_path_and_prints_the_table(tmp_path, capsys):
    assert main(["summarize", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("dlbook: error: ") and "is not a sweep directory" in error and "\n" not in error.strip()
    assert main(["summarize"]) == 2
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}})
    assert main(["summarize", str(sweep)]) == 0
    assert "| job | test.accuracy | status | error | best |" in capsys.readouterr().out


def test_summarize_imports_neither_tensorflow_nor_hydra(tmp_path):
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}}, history=curve(0.5, 0.4))
    code = (
        "import sys; from dlbook.cli import main; assert main(['summarize', sys.argv[1]]) == 0; "
        "assert not {'tensorflow', 'keras', 'hydra'} & set(sys.modules), 'heavy import'"
    )
    result = subprocess.run([sys.executable, "-c", code, str(sweep)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (sweep / "val_loss.png").exists()


def test_the_callback_summarizes_and_never_fails_the_sweep(tmp_path, capsys, caplog):
    from hydra.experimental.callback import Callback
    from omegaconf import OmegaConf

    from dlbook.results.sweep_summary import SweepSummaryCallback

    assert issubclass(SweepSummaryCallback, Callback)
    sweep = make_sweep(tmp_path)
    make_job(sweep, 0, ["seed=0"], metrics={"test": {"accuracy": 0.8}})
    callback = SweepSummaryCallback()
    callback.on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    callback.on_multirun_end(OmegaConf.create({}))
    assert "Sweep summary (summary.csv, summary.md) in" in capsys.readouterr().out
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        SweepSummaryCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "x")}}}))
    assert "sweep summary failed (SweepDirectoryError" in caplog.text


def test_the_callback_is_registered_for_every_multirun():
    from composing import compose_train_config

    cfg = compose_train_config()
    assert cfg.hydra.callbacks.sweep_summary._target_ == "dlbook.results.sweep_summary.SweepSummaryCallback"


def test_tags_and_the_command_that_repeats_each_job(tmp_path):
    sweep = make_sweep(tmp_path)
    for number, seed in enumerate((0, 1)):
        job = make_job(sweep, number, ["experiment=imdb", f"seed={seed}", "tags=[lr-study]"], metrics={"test": {}})
        status = json.loads((job / "status.json").read_text())
        (job / "status.json").write_text(json.dumps({**status, "tags": ["lr-study", "baseline"][: number + 1]}))
        command = f"dlbook train experiment=imdb seed={seed} 'tags=[lr-study]'"
        (job / "provenance.json").write_text(json.dumps({"command": command, "argv": ["worker.py", "job.pkl"]}))
    summary = summarize(sweep)
    rows = read_csv(sweep / "summary.csv")
    assert list(rows[0]) == ["job", "seed", "tags", "test.accuracy", "status", "error", "best", "command"]
    assert [row["tags"] for row in rows] == ["lr-study", "lr-study,baseline"]
    assert rows[1]["command"] == "dlbook train experiment=imdb seed=1 'tags=[lr-study]'"
    markdown = (sweep / "summary.md").read_text()
    assert "| job | seed | tags | test.accuracy | status | error | best |" in markdown
    assert "- 1: `dlbook train experiment=imdb seed=1 'tags=[lr-study]'`" in markdown
    assert summary.shows_commands


def test_a_real_sweep_leaves_its_summary_and_summarize_rebuilds_it(tmp_path):
    result = run_dlbook("train", "-m", "debug=fast", "seed=1,2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    rows = read_csv(sweep / "summary.csv")
    assert sorted(row["seed"] for row in rows) == ["1", "2"]
    assert list(rows[0]) == ["job", "backend", "seed", "test.mae", "epoch s", "status", "error", "best", "command"]
    assert {row["status"] for row in rows} == {"completed"}
    # The command a user types to repeat the job, not the launcher's worker command line.
    commands = sorted(row["command"] for row in rows)
    assert commands == ["dlbook train debug=fast seed=1", "dlbook train debug=fast seed=2"]
    assert (sweep / "summary.md").read_text().startswith(f"Sweep boston_housing/{sweep.name}: objective test.mae")
    assert "Sweep summary (summary.csv, summary.md, val_loss.png) in outputs/multirun/boston_housing" in result.stdout
    (sweep / "summary.csv").unlink()
    rebuilt = run_dlbook("summarize", str(sweep), cwd=tmp_path)
    assert rebuilt.returncode == 0 and len(read_csv(sweep / "summary.csv")) == 2
    refused = run_dlbook("summarize", "outputs", cwd=tmp_path)
    assert refused.returncode == 2 and "outputs is not a sweep directory" in refused.stderr
