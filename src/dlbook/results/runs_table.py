"""`dlbook runs`: every run under an outputs folder in one table (`dlbook runs diff`: dlbook.results.runs_diff).

``dlbook runs [folder] [experiment=imdb] [status=failed] [tag=baseline] [sort=test.accuracy] [limit=20]``
finds every run directory under ``folder`` (default ``outputs``; single runs and sweep jobs alike: a
folder with a status.json) and prints one row per run, newest first: the date it started, experiment,
status, the reference metric with its value and the book's verdict, the overrides that differ between
the runs listed, its tags, the Keras backend and device, and the run directory.

``experiment=`` takes a name or a shell pattern (``imdb*``); ``tag=`` may be given several times (a run
needs all of them); ``sort=`` is ``date`` (the default, newest first), ``experiment``, ``status`` or a
metric of metrics.json (``test.accuracy``: best first, a loss or error lowest first; runs without it last).

It reads only the run folders' JSON and YAML files (status.json, metrics.json, provenance.json,
.hydra/overrides.yaml; ``diff`` also .hydra/config.yaml) with the readers of dlbook.results.sweep_jobs:
no Hydra composition, no TensorFlow, no Keras.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dlbook.config.reference import lookup
from dlbook.errors import DlbookError
from dlbook.results.report import _format, table
from dlbook.results.sweep_jobs import (
    STATUSES,
    _read_json,
    _read_yaml,
    job_status,
    lower_is_better,
    parse_overrides,
    varying_keys,
)
from dlbook.run.directory import METRICS_FILE, PROVENANCE_FILE, STATUS_FILE, display_path

USAGE = (
    "Usage: dlbook runs [folder] [experiment=<name or pattern>] [status=<status>] [tag=<tag>] "
    "[sort=date|experiment|status|<metric>] [limit=<n>]; dlbook runs diff <run a> <run b>."
)
# One tag (tags=[...] of a run): short, readable in a table column, usable as an MLflow tag key.
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}")
HELP = """\
Every run under a folder (default: outputs) in one table, newest first: date, experiment, status, the
reference metric with its value and the book's verdict, the overrides that differ, tags, backend and
device, run directory. Reads the runs' files only (no TensorFlow).

  folder              where to look (single runs and sweep jobs alike)
  experiment=<name>   a name or a pattern: experiment=imdb, experiment='imdb*'
  status=<status>     completed, failed, pruned, interrupted, running
  tag=<tag>           runs started with that tag (tags=[...]); repeat it to need several
  sort=<key>          date (default), experiment, status, or a metric: sort=test.accuracy (best first)
  limit=<n>           at most n rows

  dlbook runs diff <run a> <run b>    the two runs' config differences and metrics side by side"""
FILTERS = ("experiment", "status", "tag", "sort", "limit")
ORDERS = ("date", "experiment", "status")
# Folders of an outputs folder that hold no runs (MLflow's local store keeps copies of status.json).
NOT_RUNS = ("mlartifacts", "mlruns", "tensorboard", "checkpoints")


class RunsError(DlbookError):
    """A bad argument of `dlbook runs`: the message names it and what is valid."""


@dataclass
class Run:
    """One run directory, as read from its files."""

    path: Path
    experiment: str
    status: str
    started: str
    metrics: dict[str, Any]
    overrides: dict[str, str]
    tags: list[str] = field(default_factory=list)
    backend: str = ""

    @property
    def verdict(self) -> dict[str, Any]:
        reference = self.metrics.get("reference")
        return reference if isinstance(reference, dict) else {}


@dataclass
class Query:
    """The parsed arguments of `dlbook runs`."""

    folder: Path = Path("outputs")
    experiment: str | None = None
    status: str | None = None
    tags: list[str] = field(default_factory=list)
    sort: str = "date"
    limit: int | None = None


def parse_arguments(arguments: list[str]) -> Query:
    """``[folder] key=value ...`` as a Query; RunsError for an unknown key or a bad value."""
    query = Query()
    folders = []
    for argument in arguments:
        key, separator, value = argument.partition("=")
        if not separator:
            folders.append(argument)
            continue
        if key not in FILTERS:
            raise RunsError(f"{argument} is not valid: dlbook runs has no {key!r} filter; valid: {', '.join(FILTERS)}.")
        if not value:
            raise RunsError(f"{argument} is not valid: {key} needs a value, e.g. {_example(key)}.")
        if key == "status" and value not in STATUSES:
            raise RunsError(f"status={value} is not valid: a run's status is one of {', '.join(STATUSES)}.")
        if key == "tag" and not TAG_PATTERN.fullmatch(value):
            raise RunsError(
                f"tag={value} is not valid: a tag is 1 to 32 letters, digits or - _ . : (as tags=[...] sets them), "
                "e.g. tag=baseline."
            )
        if key == "limit" and not (value.isdigit() and int(value) >= 1):
            raise RunsError(f"limit={value} is not valid: a positive number of rows, e.g. limit=20.")
        if key == "tag":
            query.tags.append(value)
        elif key == "limit":
            query.limit = int(value)
        else:
            setattr(query, key, value)
    if len(folders) > 1:
        raise RunsError(f"dlbook runs takes one folder, not {len(folders)} ({', '.join(folders)}). {USAGE}")
    if folders:
        query.folder = Path(folders[0])
    if not query.folder.is_dir():
        raise RunsError(
            f"{query.folder} is not a folder of runs: no such directory. Give the outputs folder that "
            "`dlbook train` writes into (default: outputs, in the folder you ran it from)."
        )
    return query


def _example(key: str) -> str:
    return {"experiment": "experiment=imdb", "status": "status=failed", "tag": "tag=baseline"}.get(
        key, {"sort": "sort=test.accuracy", "limit": "limit=20"}.get(key, "")
    )


def find_run_dirs(folder: Path) -> list[Path]:
    """Every folder under ``folder`` with a status.json (a run), not looking inside runs themselves."""
    found = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        if any(entry.name == STATUS_FILE and entry.is_file() for entry in entries):
            found.append(Path(current))
            continue
        pending.extend(
            entry.path
            for entry in entries
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".") and entry.name not in NOT_RUNS
        )
    return found


def backend_text(provenance: Any) -> str:
    """``tensorflow 2.21.0 CPU:0`` from provenance.json's backend entry (name, version, devices)."""
    backend = provenance.get("backend") if isinstance(provenance, dict) else None
    if not isinstance(backend, dict) or not backend.get("name"):
        return ""
    devices = [str(device).rsplit("device:", 1)[-1] for device in backend.get("devices") or []]
    return " ".join(str(part) for part in (backend["name"], backend.get("version"), ",".join(devices)) if part)


def read_run(path: Path) -> Run | None:
    """One run's row, or None when its status.json cannot be read."""
    status = _read_json(path / STATUS_FILE)
    if not isinstance(status, dict) or "status" not in status:
        return None
    state, _ = job_status(path, sweep_finished=False)
    metrics = _read_json(path / METRICS_FILE)
    tags = status.get("tags")
    return Run(
        path=path,
        experiment=str(status.get("experiment") or ""),
        status=state,
        started=str(status.get("first_started") or status.get("started") or ""),
        metrics=metrics if isinstance(metrics, dict) else {},
        overrides=parse_overrides(_read_yaml(path / ".hydra" / "overrides.yaml")),
        tags=[str(tag) for tag in tags] if isinstance(tags, list) else [],
        backend=backend_text(_read_json(path / PROVENANCE_FILE)),
    )


def select(runs: list[Run], query: Query) -> list[Run]:
    """The runs that pass the query's filters, in its order, cut to its limit."""
    chosen = [
        run
        for run in runs
        if (query.experiment is None or fnmatch.fnmatchcase(run.experiment, query.experiment))
        and (query.status is None or run.status == query.status)
        and all(tag in run.tags for tag in query.tags)
    ]
    chosen.sort(key=lambda run: run.started, reverse=True)  # newest first; also the tie order below
    if query.sort == "experiment":
        chosen.sort(key=lambda run: run.experiment)
    elif query.sort == "status":
        chosen.sort(key=lambda run: run.status)
    elif query.sort not in ORDERS:
        known = sorted({key for run in runs for key in _metric_keys(run.metrics)})
        if query.sort not in known:
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise RunsError(
                f"sort={query.sort} is not valid: sort by {', '.join(ORDERS)} or a metric of the runs' metrics.json"
                + (f" ({shown})." if known else " (none of these runs has metrics yet).")
            )
        sign = 1.0 if lower_is_better(query.sort) else -1.0

        def order(run: Run) -> tuple[bool, float]:
            value = lookup(run.metrics, query.sort)
            missing = value is None or math.isnan(value)
            return missing, 0.0 if missing else sign * value

        chosen.sort(key=order)
    return chosen[: query.limit] if query.limit else chosen


def _metric_keys(metrics: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in metrics.items():
        if isinstance(value, dict) and key != "reference":
            keys += _metric_keys(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append(f"{prefix}{key}")
    return keys


def _date(started: str) -> str:
    try:
        return datetime.fromisoformat(started).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return started


def _verdict_cells(run: Run) -> list[str]:
    verdict = run.verdict
    if not verdict:
        return ["", "", ""]
    reproduced = verdict.get("reproduced")
    ok = "" if reproduced is None else ("yes" if reproduced else "no")
    value = verdict.get("value")
    return [str(verdict.get("metric") or ""), _format(value) if value is not None else "", ok]


def runs_table(runs: list[Run], sort: str = "date", folder: Path | None = None) -> str:
    """The table `dlbook runs` prints (a column with the sort metric when sorting by one).

    ``folder``: where the runs were found; their paths are shown from there as the user gave it.
    """
    shown_folder = Path(display_path(folder)) if folder is not None else None
    # One run: all its overrides; several: those that differ between them (as a sweep summary's columns).
    varying = varying_keys(runs) if len(runs) > 1 else list(runs[0].overrides) if runs else []
    by_metric = sort not in ORDERS
    header = ["date", "experiment", "status", "metric", "value", "book ok"]
    header += [sort] if by_metric else []
    header += ["overrides", "tags", "backend", "run"]
    rows = []
    for run in runs:
        overrides = " ".join(f"{key}={run.overrides[key]}" for key in varying if key in run.overrides)
        row = [_date(run.started), run.experiment, run.status, *_verdict_cells(run)]
        if by_metric:
            value = lookup(run.metrics, sort)
            row.append("" if value is None else _format(value))
        row += [overrides, ",".join(run.tags), run.backend, _shown_path(run.path, folder, shown_folder)]
        rows.append(row)
    return table(rows, header)


def _shown_path(path: Path, folder: Path | None, shown_folder: Path | None) -> str:
    if folder is not None and shown_folder is not None:
        try:
            return str(shown_folder / path.relative_to(folder))
        except ValueError:
            pass
    return display_path(path)


def list_runs(arguments: list[str]) -> str:
    """What `dlbook runs <arguments>` prints; RunsError for a bad argument."""
    query = parse_arguments(arguments)
    runs = [run for run in map(read_run, find_run_dirs(query.folder)) if run is not None]
    chosen = select(runs, query)
    if not chosen:
        experiments = sorted({run.experiment for run in runs})
        tags = sorted({tag for run in runs for tag in run.tags})
        return (
            f"No runs match under {display_path(query.folder)} ({len(runs)} runs there"
            + (f"; experiments: {', '.join(experiments)}" if experiments else "")
            + (f"; tags: {', '.join(tags)}" if tags else "")
            + ")."
        )
    total = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    shown = f"{len(chosen)} of {total}" if len(chosen) != len(runs) else total
    return f"{shown} under {display_path(query.folder)}:\n\n{runs_table(chosen, query.sort, query.folder)}"
