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
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlbook.errors import DlbookError
from dlbook.run import run_lock

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PROVENANCE_FILE = "provenance.json"
MODEL_FILE = "model.keras"
# The backup commits of each fit (dlbook.run.backup), kept until the run completes.
BACKUP_DIR = "checkpoints/backup"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def write_json(path: Path, content: Any) -> None:
    """Write ``content`` as indented JSON, atomically and durably (see :func:`write_text`)."""
    write_text(path, json.dumps(content, indent=2, sort_keys=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically and durably (a reader, even after a crash of the machine, sees the previous
    file or the complete new one, never half a file): temporary file, fsync, rename, fsync of the folder."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
    """Make the entries of folder ``path`` (a rename into it) durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run_status(path: str | Path) -> str | None:
    """The status in ``path``'s status.json (running, completed, failed, ...), or None where there is no run."""
    try:
        return read_json(Path(path) / STATUS_FILE).get("status")
    except (OSError, ValueError):
        return None


def display_path(path: str | Path) -> str:
    """``path`` relative to the current folder when it lies inside it (as a user would type it)."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


class RunDirectory:
    """One run's folder (Hydra's output directory for the job)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.started = None

    def file(self, name: str) -> Path:
        return self.path / name

    def start(self, experiment: str, resume: bool = False) -> None:
        """Mark the run as running; refuse a directory that already holds a run, unless resuming it.

        A fresh run claims the directory by creating status.json atomically (a hard link, which fails when
        the file exists), so two processes started at the same moment can never both write into it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        status_file = self.file(STATUS_FILE)
        self.started = _now()
        running = {"status": "running", "experiment": experiment, "started": self.started, "pid": os.getpid()}
        if resume and status_file.exists():
            run_lock.hold(self.path)  # refuses a resume while another process still works in the run
            earlier = read_json(status_file)
            if earlier.get("status") == "completed":
                raise DlbookError(
                    f"resume={self.path} is not valid: that run is already completed (status.json). Resume a run "
                    "whose status is running (its process died), interrupted or failed; start a new run otherwise."
                )
            running.update(first_started=earlier.get("first_started", earlier.get("started")))
            running.update(resumed=int(earlier.get("resumed", 0)) + 1, resumed_from=earlier.get("status"))
            write_json(status_file, running)
            return
        temporary = self.file(f".{STATUS_FILE}.{os.getpid()}.claim")
        temporary.write_text(json.dumps(running, indent=2) + "\n", encoding="utf-8")
        try:
            os.link(temporary, status_file)
        except FileExistsError:
            raise DlbookError(
                f"The run directory {self.path} already holds a run (it has {STATUS_FILE}); dlbook never "
                "overwrites a run. Start again (run directories are named by the microsecond), choose "
                "another hydra.run.dir, or continue that run with resume=<its directory>."
            ) from None
        finally:
            temporary.unlink(missing_ok=True)
        run_lock.hold(self.path)  # the run's own lock, so that a resume started meanwhile is refused

    def complete(self, experiment: str, metrics: dict[str, Any]) -> None:
        """Write metrics.json, mark the run completed, and drop the backups kept for resuming it."""
        write_json(self.file(METRICS_FILE), metrics)
        self._write_status({"status": "completed", "experiment": experiment, "started": self.started, "ended": _now()})
        shutil.rmtree(self.file(BACKUP_DIR), ignore_errors=True)

    def interrupt(self, experiment: str, signal_name: str) -> None:
        """Mark the run interrupted (SIGINT, SIGTERM): its backup holds the last completed epoch."""
        self._write_status(
            {
                "status": "interrupted",
                "experiment": experiment,
                "started": self.started,
                "ended": _now(),
                "signal": signal_name,
                "resume": f"dlbook train resume={self.path}",
            }
        )

    def _write_status(self, status: dict[str, Any]) -> None:
        """Replace status.json, keeping what a resumed run carries over (first start, resume count)."""
        status_file = self.file(STATUS_FILE)
        if status_file.exists():
            earlier = read_json(status_file)
            status.update({key: earlier[key] for key in ("first_started", "resumed", "tags") if key in earlier})
        write_json(status_file, status)
        run_lock.release(self.path)  # the run has ended (completed, failed, interrupted or pruned)

    def fail(self, experiment: str, error: BaseException) -> None:
        details = {
            key: getattr(error, key) for key in ("epoch", "batch", "fit") if getattr(error, key, None) is not None
        }
        self._write_status(
            {
                "status": "failed",
                "experiment": experiment,
                "started": self.started,
                "ended": _now(),
                "error": {"type": type(error).__name__, "message": str(error), **details},
            },
        )

    def prune(self, experiment: str, epoch: int | None, message: str) -> None:
        """Mark the run as pruned: an Optuna trial stopped after ``epoch`` (counted over the run's fits)."""
        self._write_status(
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


def package_versions() -> dict[str, Any]:
    """Python, the platform, the versions of dlbook and its main libraries, dlbook's git commit, and the date.

    Read without importing TensorFlow (package metadata), so that `dlbook reproduce` can record it too.
    """
    return {
        "date": _now(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            name: _version(name) for name in ("dlbook", "tensorflow", "keras", "hydra-core", "omegaconf", "numpy")
        },
        "git": _git_commit(),
    }


def provenance() -> dict[str, Any]:
    """What produced a run: versions, git commit of dlbook's source, machine and devices."""
    from dlbook.run.runtime import devices_in_use, launcher_placement, physical_devices

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            name: _version(name)
            for name in ("dlbook", "tensorflow", "jax", "torch", "keras", "hydra-core", "omegaconf", "numpy")
            if _version(name) is not None
        },
        "git": _git_commit(),
        "devices": physical_devices(),
        # What the backend runs on (logical devices: a GPU given a memory limit, a CPU split in two).
        "devices_in_use": devices_in_use(),
        # In a sweep: the launcher's slot, the GPUs the job could see, its share of their memory, its thread cap.
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
