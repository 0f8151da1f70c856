"""The run directory: status.json, metrics.json, history.csv, provenance.json.

A run is ``running`` from its first line of work, and ends ``completed`` (with metrics.json) or
``failed`` (with the error's type and message). Files are written atomically, and a directory
that already holds a run is never reused.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlbook.errors import DlbookError

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PROVENANCE_FILE = "provenance.json"
MODEL_FILE = "model.keras"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def write_json(path: Path, content: Any) -> None:
    """Write ``content`` as indented JSON, atomically (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class RunDirectory:
    """One run's folder (Hydra's output directory for the job)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.started = None

    def file(self, name: str) -> Path:
        return self.path / name

    def start(self, experiment: str) -> None:
        """Mark the run as running; refuse a directory that already holds a run."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.file(STATUS_FILE).exists():
            raise DlbookError(
                f"The run directory {self.path} already holds a run (it has {STATUS_FILE}); dlbook never "
                "overwrites a run. Start again (run directories are named by the microsecond) or choose "
                "another hydra.run.dir."
            )
        self.started = _now()
        write_json(
            self.file(STATUS_FILE),
            {"status": "running", "experiment": experiment, "started": self.started, "pid": os.getpid()},
        )

    def complete(self, experiment: str, metrics: dict[str, Any]) -> None:
        write_json(self.file(METRICS_FILE), metrics)
        write_json(
            self.file(STATUS_FILE),
            {"status": "completed", "experiment": experiment, "started": self.started, "ended": _now()},
        )

    def fail(self, experiment: str, error: BaseException) -> None:
        write_json(
            self.file(STATUS_FILE),
            {
                "status": "failed",
                "experiment": experiment,
                "started": self.started,
                "ended": _now(),
                "error": {"type": type(error).__name__, "message": str(error)},
            },
        )

    def prune(self, experiment: str, epoch: int | None, message: str) -> None:
        """Mark the run as pruned: an Optuna trial stopped after ``epoch`` (counted over the run's fits)."""
        write_json(
            self.file(STATUS_FILE),
            {
                "status": "pruned",
                "experiment": experiment,
                "started": self.started,
                "ended": _now(),
                "epoch": epoch,
                "message": message,
            },
        )

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        """All fits' per-epoch metrics in one CSV (columns: phase, epoch, then the metrics)."""
        columns: list[str] = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
        with open(self.file(HISTORY_FILE), "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    def write_provenance(self, extra: dict[str, Any]) -> None:
        write_json(self.file(PROVENANCE_FILE), {**provenance(), **extra})


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _git_commit() -> dict[str, Any] | None:
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain"], capture_output=True, text=True, timeout=5
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """What produced a run: versions, git commit of dlbook's source, machine and devices."""
    import tensorflow as tf

    from dlbook.runtime import launcher_placement

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            name: _version(name) for name in ("dlbook", "tensorflow", "keras", "hydra-core", "omegaconf", "numpy")
        },
        "git": _git_commit(),
        "devices": [device.name for device in tf.config.list_physical_devices()],
        # In a sweep: the launcher's slot, the GPUs the job could see and its thread cap.
        "launcher": launcher_placement(),
        "command": sys.argv,
    }


def mark_died(path: str | Path, cause: str) -> None:
    """Record in a run's status.json that its process died (``cause``) while the run was still running."""
    status_file = Path(path) / STATUS_FILE
    if not status_file.exists():
        return
    status = read_json(status_file)
    if status.get("status") != "running":
        return
    status.update(
        status="failed",
        ended=_now(),
        error={"type": "JobDied", "message": f"the run's process died: {cause}"},
    )
    write_json(status_file, status)
