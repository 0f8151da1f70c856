"""One process at a time per run or sweep directory: an exclusive lock held while the process works in it.

A run (and a sweep's own process) holds ``.dlbook.lock`` in its directory with ``fcntl.flock``. The operating
system drops the lock when the process ends, however it ends, so a run killed by SIGKILL or a power cut never
locks its later resume out; while the process lives, a second `dlbook train resume=<dir>` (or ``-m
resume=<sweep>``) of the same directory is refused with one paragraph instead of two processes writing the
same checkpoints, status.json and metrics.json.

Where ``flock`` does not exist (Windows) nothing is locked. A lock is per open file, so this process keeps
the one file it opened per directory and holding a directory twice is a no-op.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from dlbook.errors import DlbookError

LOCK_FILE = ".dlbook.lock"

_held: dict[Path, int] = {}  # directory (resolved) -> the open lock file's descriptor
_guard = threading.Lock()


class DirectoryBusy(DlbookError):
    """Another living process holds the lock of a run or sweep directory."""


def hold(directory: str | Path, what: str = "run", key: str = "resume") -> None:
    """Lock ``directory`` for this process until :func:`release` or the process's end.

    Raises DirectoryBusy naming ``key=directory``, the other process and the way out when another process
    holds it. ``what`` (run or sweep) is only for the message.
    """
    try:
        import fcntl
    except ImportError:  # no flock on this platform: run unlocked, as before
        return
    folder = Path(directory).resolve()
    with _guard:
        if folder in _held:
            return
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            holder = _holder(folder / LOCK_FILE)
            by = f"dlbook process {holder}" if holder else "dlbook process"
            stop = f"stop it (kill {holder})" if holder else "stop it"
            raise DirectoryBusy(
                f"{key}={directory} is not valid now: another {by} is working in that {what}, and two "
                f"processes writing the same {what} folder would corrupt it. Wait for that process to end, or "
                f"{stop} and then resume; a process that has died holds no lock, so a killed {what} can always "
                "be resumed."
            ) from None
        # Who holds it, for the message above; informative only (the lock itself is the flock).
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        _held[folder] = descriptor


def release(directory: str | Path) -> None:
    """Give up this process's lock of ``directory`` (nothing happens where it holds none)."""
    with _guard:
        descriptor = _held.pop(Path(directory).resolve(), None)
    if descriptor is not None:
        os.close(descriptor)  # closing the only descriptor of the open file drops its flock


def hold_resumed(arguments: list[str]) -> None:
    """Lock the directory of `dlbook train [-m] resume=<dir>` before Hydra writes anything into it."""
    given = [argument.split("=", 1)[1] for argument in arguments if argument.startswith("resume=")]
    if given:
        multirun = any(argument in ("-m", "--multirun") for argument in arguments)
        hold(given[-1], "sweep" if multirun else "run")


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
