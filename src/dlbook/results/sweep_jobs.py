"""The job folders of a sweep, read from their files: overrides, status, objective, curves, timings.

A sweep directory (``outputs/multirun/<name>/<timestamp>/``) holds ``multirun.yaml`` and one run directory
per job (``0/``, ``1/``, ...). Everything here reads files only (no Hydra composition, no TensorFlow), for
the sweep summary (dlbook.results.sweep_summary) and the table of runs (dlbook.results.runs_table).
How a job's status and its objective's direction are decided is described in dlbook.results.sweep_summary.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlbook.config.reference import lookup
from dlbook.errors import DlbookError
from dlbook.tasks.summaries import lower_is_better as metric_lower_is_better

MULTIRUN_FILE = "multirun.yaml"


# Display order of the statuses in the counts line.
STATUSES = ("completed", "failed", "pruned", "interrupted", "running", "not started", "unreadable")


class SweepDirectoryError(DlbookError):
    """The path given is not a sweep directory."""


@dataclass
class Job:
    """One job folder of a sweep, as read from its files."""

    name: str
    path: Path
    overrides: dict[str, str]
    status: str
    error_type: str | None = None
    objective: str | None = None
    value: float | None = None
    curve: tuple[list[int], list[float]] | None = None
    backend: str | None = None
    epoch_seconds: float | None = None
    tags: list[str] = field(default_factory=list)
    command: str | None = None
    best: bool = False
    label: str = ""


def sweep_name(sweep_dir: Path) -> str:
    """``<name>/<timestamp>``: how a sweep is recognised among outputs/multirun/."""
    parent = sweep_dir.resolve().parent.name
    return f"{parent}/{sweep_dir.name}" if parent else sweep_dir.name


def lower_is_better(metric: str) -> bool:
    """True for metric names that look like a loss or an error (``val.loss``, ``kfold.val_mae_mean``)."""
    return metric_lower_is_better(metric.rsplit(".", 1)[-1].lower())


# libyaml's parser where PyYAML has it (the wheels do): `dlbook runs` reads a YAML file per run.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError):
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_job_dir(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith("."):
        return False
    return path.name.isdigit() or (path / ".hydra").is_dir() or (path / "status.json").is_file()


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep: numbered ones in number order, then any other run folder by name."""
    folders = [path for path in sweep_dir.iterdir() if _is_job_dir(path)]
    return sorted(folders, key=lambda path: (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name))


def check_sweep_dir(path: Path) -> Path:
    """``path`` when it is a sweep directory; otherwise a SweepDirectoryError saying what to give instead."""
    if not path.is_dir():
        raise SweepDirectoryError(
            f"{path} is not a sweep directory: no such directory. Give the folder of one multirun, "
            "outputs/multirun/<name>/<timestamp>, as `dlbook train -m` printed it."
        )
    if (path / MULTIRUN_FILE).is_file() or any((folder / ".hydra").is_dir() for folder in job_dirs(path)):
        return path
    sweeps = sorted(found.parent for found in path.glob(f"*/{MULTIRUN_FILE}"))
    if (path.parent / MULTIRUN_FILE).is_file():
        hint = f"it is job {path.name} of the sweep {path.parent}"
    elif (path / "status.json").is_file() or (path / ".hydra").is_dir():
        hint = "it is a single run, not a sweep"
    elif sweeps:
        hint = f"it holds {len(sweeps)} sweep{'s' if len(sweeps) > 1 else ''}, the latest is {sweeps[-1]}"
    else:
        hint = f"it has no {MULTIRUN_FILE} and no job folders (0/, 1/, ...)"
    raise SweepDirectoryError(
        f"{path} is not a sweep directory: {hint}. Give the folder of one multirun, "
        f"outputs/multirun/<name>/<timestamp>, which holds {MULTIRUN_FILE} and one folder per job."
    )


def parse_overrides(lines: Any) -> dict[str, str]:
    """``["model.units=16", "+x=1"]`` -> ``{"model.units": "16", "x": "1"}`` (Hydra's overrides.yaml)."""
    overrides: dict[str, str] = {}
    for line in lines if isinstance(lines, list) else []:
        key, separator, value = str(line).partition("=")
        if separator:
            overrides[key.lstrip("+~")] = value
    return overrides


def _process_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    except OSError:
        return False
    return True


def job_status(path: Path, sweep_finished: bool) -> tuple[str, str | None]:
    """(status, error type) of one job folder; see the module docstring for interrupted / not started."""
    status_file = path / "status.json"
    if not status_file.is_file():
        return "not started", None
    status = _read_json(status_file)
    if not isinstance(status, dict) or "status" not in status:
        return "unreadable", None
    state = str(status["status"])
    if state == "running" and (sweep_finished or not _process_alive(status.get("pid"))):
        state = "interrupted"
    error = status.get("error")
    error_type = error.get("type") if isinstance(error, dict) and state in ("failed", "pruned") else None
    return state, error_type


def job_objective(path: Path) -> str | None:
    """The job's ``objective``, or its ``reference.metric``, from .hydra/config.yaml."""
    config = _read_yaml(path / ".hydra" / "config.yaml")
    if not isinstance(config, dict):
        return None
    reference = config.get("reference")
    metric = config.get("objective") or (reference.get("metric") if isinstance(reference, dict) else None)
    return str(metric) if metric else None


def validation_curve(path: Path) -> tuple[list[int], list[float]] | None:
    """(epochs, val_loss) of the job's first fit that has a val_loss, from history.csv; None if none."""
    try:
        with open(path / "history.csv", newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except OSError:
        return None
    first = next((row for row in rows if row.get("val_loss") not in (None, "")), None)
    if first is None:
        return None
    phase = first.get("phase")
    epochs, losses = [], []
    for number, row in enumerate(rows, start=1):
        if row.get("phase") != phase or row.get("val_loss") in (None, ""):
            continue
        try:
            losses.append(float(row["val_loss"]))
            epochs.append(int(float(row.get("epoch") or number)))
        except ValueError:
            continue
    return (epochs, losses) if losses else None


def job_backend(path: Path) -> str | None:
    """ "<backend> <version>" (e.g. "jax 0.10.2") from the job's provenance.json; None where it has none."""
    provenance = _read_json(path / "provenance.json")
    backend = provenance.get("backend") if isinstance(provenance, dict) else None
    if not isinstance(backend, dict) or not backend.get("name"):
        return None
    return " ".join(str(part) for part in (backend["name"], backend.get("version")) if part)


def job_command(path: Path) -> str | None:
    """The plain command that repeats the job (provenance.json's ``command``); None for runs that lack it."""
    provenance = _read_json(path / "provenance.json")
    command = provenance.get("command") if isinstance(provenance, dict) else None
    return command if isinstance(command, str) else None  # older runs kept the process's argv list there


def job_tags(path: Path) -> list[str]:
    """The job's tags (``tags=[...]``) from its status.json."""
    status = _read_json(path / "status.json")
    tags = status.get("tags") if isinstance(status, dict) else None
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def median_epoch_seconds(path: Path) -> float | None:
    """The median epoch time in the job's history.csv (each fit's first epoch left out where it has more)."""
    try:
        with open(path / "history.csv", newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, csv.Error):
        return None
    by_phase: dict[str, list[float]] = {}
    for row in rows:
        try:
            seconds = float(row.get("seconds") or "")
        except ValueError:
            continue
        by_phase.setdefault(row.get("phase") or "", []).append(seconds)
    times = [seconds for phase in by_phase.values() for seconds in (phase[1:] if len(phase) > 1 else phase)]
    return statistics.median(times) if times else None


def sweeper_direction(sweep_dir: Path) -> str | None:
    """``minimize`` / ``maximize`` from multirun.yaml's hydra.sweeper.direction (None when not set)."""
    multirun = _read_yaml(sweep_dir / MULTIRUN_FILE)
    sweeper = ((multirun or {}).get("hydra") or {}).get("sweeper") if isinstance(multirun, dict) else None
    direction = sweeper.get("direction") if isinstance(sweeper, dict) else None
    if isinstance(direction, list):
        direction = direction[0] if direction else None
    text = str(direction).lower() if direction is not None else ""
    for name in ("minimize", "maximize"):
        if name in text:  # also Optuna's enum spelling, StudyDirection.MINIMIZE
            return name
    return None


def read_job(path: Path, sweep_finished: bool) -> Job:
    """One job's row: overrides, status, objective value (completed or not) and validation curve."""
    status, error_type = job_status(path, sweep_finished)
    objective = job_objective(path)
    metrics = _read_json(path / "metrics.json")
    value = lookup(metrics, objective) if objective and isinstance(metrics, dict) else None
    if value is not None and math.isnan(value):
        value = None
    return Job(
        name=path.name,
        path=path,
        overrides=parse_overrides(_read_yaml(path / ".hydra" / "overrides.yaml")),
        status=status,
        error_type=error_type,
        objective=objective,
        value=value,
        curve=validation_curve(path),
        backend=job_backend(path),
        epoch_seconds=median_epoch_seconds(path),
        tags=job_tags(path),
        command=job_command(path),
    )


def varying_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value is not the same in every job (a key missing somewhere varies too)."""
    keys: list[str] = []
    for job in jobs:
        keys.extend(key for key in job.overrides if key not in keys)
    # resume=<sweep dir> marks the jobs a resumed sweep ran again; it says nothing about what they are.
    # Tags have their own column.
    return [key for key in keys if key not in ("resume", "tags") and len({job.overrides.get(key) for job in jobs}) > 1]
