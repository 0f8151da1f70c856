"""`dlbook runs`: every run under an outputs folder in one table; `dlbook runs diff <a> <b>`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from dlbook.cli import main
from dlbook.results.runs_table import find_run_dirs


def make_run(
    folder,
    experiment="imdb",
    started="2026-11-26T10:00:00+00:00",
    status="completed",
    value=0.88,
    overrides=(),
    tags=None,
    config=None,
    metric="test.accuracy",
    band=(0.85, 0.91),
):
    """A run directory as `dlbook train` leaves it (the files `dlbook runs` reads)."""
    (folder / ".hydra").mkdir(parents=True)
    record = {"status": status, "experiment": experiment, "started": started}
    if tags is not None:
        record["tags"] = tags
    (folder / "status.json").write_text(json.dumps(record))
    if status == "completed":
        split, name = metric.split(".")
        verdict = {"metric": metric, "book": 0.88, "band": list(band), "value": value}
        verdict["reproduced"] = band[0] <= value <= band[1]
        metrics = {split: {name: value, "loss": 1 - value}, "reference": verdict}
        (folder / "metrics.json").write_text(json.dumps(metrics))
    provenance = {
        "backend": {"name": "jax", "version": "0.4.38", "devices": ["/device:CPU:0"]},
        "command": "dlbook train " + " ".join([f"experiment={experiment}", *overrides]),
    }
    (folder / "provenance.json").write_text(json.dumps(provenance))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"experiment={experiment}", *overrides]))
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config or {"name": experiment, "seed": 0}))
    return folder


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """Four runs: two single imdb runs, a two-job reuters sweep (one failed); cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "outputs"
    make_run(root / "imdb" / "a", started="2026-11-26T10:00:00+00:00", value=0.86, overrides=["seed=0"])
    make_run(
        root / "imdb" / "b", started="2026-11-27T10:00:00+00:00", value=0.90, overrides=["seed=1"], tags=["baseline"]
    )
    sweep = root / "multirun" / "reuters" / "2026-11-28_00-00-00_000000"
    (sweep).mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    make_run(sweep / "0", "reuters", "2026-11-28T10:00:00+00:00", value=0.70, overrides=["model.units=16"])
    make_run(
        sweep / "1", "reuters", "2026-11-28T11:00:00+00:00", "failed", overrides=["model.units=64"], tags=["baseline"]
    )
    # MLflow's local store keeps copies of status.json among its artifacts: not runs.
    copy = root / "mlartifacts" / "imdb" / "0123" / "artifacts"
    copy.mkdir(parents=True)
    (copy / "status.json").write_text(json.dumps({"status": "completed", "experiment": "imdb"}))
    return root


def rows(output: str) -> list[list[str]]:
    """The table's body rows, split on runs of two spaces (the run dir is the last cell)."""
    lines = output.strip().splitlines()
    body = lines[lines.index(next(line for line in lines if line.startswith("----"))) + 1 :]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in body]


def test_every_run_in_one_table_newest_first(outputs, capsys):
    assert main(["runs"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("4 runs under outputs:")
    header = next(line for line in output.splitlines() if line.startswith("date"))
    assert header.split() == ["date", "experiment", "status", "metric", "value", "book", "ok", "overrides", "tags",
                              "backend", "run"]  # fmt: skip
    table = rows(output)
    assert [row[-1] for row in table] == [
        "outputs/multirun/reuters/2026-11-28_00-00-00_000000/1",
        "outputs/multirun/reuters/2026-11-28_00-00-00_000000/0",
        "outputs/imdb/b",
        "outputs/imdb/a",
    ]
    failed, reuters, imdb_b, imdb_a = table
    assert failed[1:3] == ["reuters", "failed"]
    assert imdb_b[1:6] == ["imdb", "completed", "test.accuracy", "0.9000", "yes"]
    assert imdb_a[1:6] == ["imdb", "completed", "test.accuracy", "0.8600", "yes"]
    assert reuters[5] == "no"  # 0.70 is outside the band
    # The overrides that differ between the runs listed; the backend and device from provenance.json.
    assert "experiment=imdb seed=1" in imdb_b and "experiment=reuters model.units=16" in reuters
    assert "jax 0.4.38 CPU:0" in imdb_b and "baseline" in imdb_b


def test_filters_sort_and_limit(outputs, capsys):
    assert main(["runs", "outputs", "experiment=imdb"]) == 0
    assert [row[-1] for row in rows(capsys.readouterr().out)] == ["outputs/imdb/b", "outputs/imdb/a"]
    assert main(["runs", "status=failed"]) == 0
    assert [row[2] for row in rows(capsys.readouterr().out)] == ["failed"]
    assert main(["runs", "tag=baseline"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("2 of 4 runs") and {row[1] for row in rows(output)} == {"imdb", "reuters"}
    assert main(["runs", "experiment=*", "sort=test.accuracy"]) == 0  # best first, runs without it last
    assert [row[-1][-1] for row in rows(capsys.readouterr().out)] == ["b", "a", "0", "1"]
    assert main(["runs", "sort=test.loss", "limit=2"]) == 0  # a loss: lowest first
    assert [row[-1][-1] for row in rows(capsys.readouterr().out)] == ["b", "a"]
    assert main(["runs", "experiment=cifar"]) == 0
    assert "No runs match under outputs (4 runs there; experiments: imdb, reuters; tags: baseline)" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["colour=red"], "colour=red is not valid: dlbook runs has no 'colour' filter; valid: experiment, status"),
        (["status=done"], "status=done is not valid: a run's status is one of completed, failed"),
        (["limit=0"], "limit=0 is not valid: a positive number of rows"),
        (["tag=no spaces"], "tag=no spaces is not valid: a tag is 1 to 32 letters"),
        (["sort=test.auc"], "sort=test.auc is not valid: sort by date, experiment, status or a metric"),
        (["nowhere"], "nowhere is not a folder of runs: no such directory"),
        (["diff", "outputs/imdb/a"], "dlbook runs diff takes two run directories, not 1"),
        (["diff", "outputs/imdb/a", "outputs/imdb"], "outputs/imdb is not a run directory: it has no status.json"),
    ],
)
def test_bad_arguments_get_one_paragraph_and_exit_2(outputs, capsys, arguments, message):
    assert main(["runs", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"dlbook: error: {message}")
    assert error.count("\n") == 1


def test_diff_shows_config_differences_and_metrics_side_by_side(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"name": "imdb", "seed": 0, "model": {"units": 16, "layers": 2}, "tags": []}
    make_run(tmp_path / "a", value=0.86, config=config)
    changed = {**config, "seed": 1, "model": {"units": 64, "layers": 2}}
    make_run(tmp_path / "b", value=0.90, config=changed, tags=["baseline"])
    assert main(["runs", "diff", "a", "b"]) == 0
    output = capsys.readouterr().out
    config_part = output.split("Config differences (2):")[1].split("Metrics:")[0]
    differences = [line.split() for line in config_part.strip().splitlines()[2:]]
    assert differences == [["model.units", "16", "64"], ["seed", "0", "1"]]
    metrics = {line.split()[0]: line.split()[1:] for line in output.split("Metrics:")[1].strip().splitlines()[2:]}
    assert metrics["test.accuracy"] == ["0.86", "0.9", "+0.04"]
    assert "baseline" in output and "dlbook train experiment=imdb" in output


def test_reads_files_only_no_tensorflow_nor_keras(outputs):
    code = (
        "import sys; from dlbook.cli import main; assert main(['runs', 'sort=test.accuracy']) == 0; "
        "assert main(['runs', 'diff', 'outputs/imdb/a', 'outputs/imdb/b']) == 0; "
        "heavy = {'tensorflow', 'keras'} & set(sys.modules); assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=outputs.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "outputs/imdb/a" in result.stdout


def test_run_folders_are_found_in_single_runs_and_sweeps_but_not_inside_runs(outputs):
    found = {path.relative_to(outputs).as_posix() for path in find_run_dirs(outputs)}
    assert found == {
        "imdb/a",
        "imdb/b",
        "multirun/reuters/2026-11-28_00-00-00_000000/0",
        "multirun/reuters/2026-11-28_00-00-00_000000/1",
    }
