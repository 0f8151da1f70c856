"""`dlbook runs diff <a> <b>`: the config differences and the metrics of two runs side by side.

Reads the run folders' JSON and YAML files only (status.json, metrics.json, .hydra/config.yaml), as the
table of runs (dlbook.results.runs_table) does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlbook.config.reference import lookup
from dlbook.results.report import table
from dlbook.results.runs_table import RunsError, _date, _metric_keys, _verdict_cells, read_run
from dlbook.results.sweep_jobs import _read_yaml, job_command
from dlbook.run.directory import STATUS_FILE, display_path


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{dotted.key: value}`` (lists and empty dicts are values)."""
    if isinstance(config, dict) and config:
        flat: dict[str, Any] = {}
        for key, value in config.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): config}


def _check_run_dir(path: Path) -> Path:
    if not (path / STATUS_FILE).is_file():
        why = "no such directory" if not path.is_dir() else f"it has no {STATUS_FILE}"
        raise RunsError(
            f"{path} is not a run directory: {why}. Give two folders that `dlbook train` wrote (dlbook runs lists "
            "them), e.g. dlbook runs diff outputs/imdb/<timestamp> outputs/multirun/imdb/<timestamp>/3."
        )
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def diff_runs(first: str | Path, second: str | Path) -> str:
    """The config differences and the metrics of two runs side by side."""
    a, b = _check_run_dir(Path(first)), _check_run_dir(Path(second))
    run_a, run_b = read_run(a), read_run(b)
    config_a = flatten(_read_yaml(a / ".hydra" / "config.yaml") or {})
    config_b = flatten(_read_yaml(b / ".hydra" / "config.yaml") or {})
    # The run folder itself always differs; it is in the heading.
    keys = [key for key in dict.fromkeys([*config_a, *config_b]) if key != "paths.run_dir"]
    differing = [
        [key, _cell(config_a.get(key)), _cell(config_b.get(key))]
        for key in keys
        if config_a.get(key) != config_b.get(key)
    ]
    metric_keys = list(dict.fromkeys([*_metric_keys(run_a.metrics), *_metric_keys(run_b.metrics)]))
    metric_rows = []
    for key in metric_keys:
        value_a, value_b = lookup(run_a.metrics, key), lookup(run_b.metrics, key)
        change = "" if value_a is None or value_b is None else f"{value_b - value_a:+.6g}"
        metric_rows.append([key, _cell(value_a), _cell(value_b), change])
    status_rows = [
        ["experiment", run_a.experiment, run_b.experiment],
        ["status", run_a.status, run_b.status],
        ["started", _date(run_a.started), _date(run_b.started)],
        ["book ok", *(_verdict_cells(run)[2] or "-" for run in (run_a, run_b))],
        ["tags", ",".join(run_a.tags) or "-", ",".join(run_b.tags) or "-"],
        ["backend", run_a.backend or "-", run_b.backend or "-"],
        ["command", job_command(a) or "-", job_command(b) or "-"],
    ]
    parts = [
        f"a: {display_path(a)}",
        f"b: {display_path(b)}",
        "",
        table(status_rows, ["", "a", "b"]),
        "",
        f"Config differences ({len(differing)}):",
        table(differing, ["key", "a", "b"]) if differing else "(none: the same composed config)",
        "",
        "Metrics:",
        table(metric_rows, ["metric", "a", "b", "b - a"]) if metric_rows else "(neither run has metrics.json)",
    ]
    return "\n".join(parts)
