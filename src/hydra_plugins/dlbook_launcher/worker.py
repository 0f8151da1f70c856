"""The process of one sweep job: ``python -m hydra_plugins.dlbook_launcher.worker <job file> <result file>``.

The launcher pickles what Hydra's own launchers hand to ``run_job`` (the job's composed config, the Hydra
context, the task function, Hydra's global state); this process runs the job and pickles its JobReturn back.
Running every job in a fresh process matters for TensorFlow, which keeps GPU memory until its process ends.

A job never outlives its sweep: when the sweep's process dies (SIGKILL, its terminal closed), the job gets
SIGTERM, stops at its next batch as an interrupted run, and is killed if it has not ended a few seconds later.
Otherwise `dlbook train -m resume=<sweep>` would start the job again in the same folder while the orphan
still trains there.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path

import cloudpickle


def _picklable(value: object) -> object:
    """``value`` itself if it survives pickling, else a RuntimeError carrying its type and message."""
    try:
        cloudpickle.loads(cloudpickle.dumps(value))  # the launcher must be able to read it back, too
        return value
    except Exception:  # noqa: BLE001 - any pickling failure: keep the essentials
        if isinstance(value, BaseException):
            return RuntimeError(f"{type(value).__name__}: {value}")
        return repr(value)


# Set by the launcher: the process id of the sweep that started this job.
PARENT_VARIABLE = "DLBOOK_LAUNCHER_PID"
# Linux prctl option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
# Seconds between two looks at the parent, and how long a job may take to stop after its SIGTERM.
POLL_SECONDS = 0.5
GRACE_SECONDS = 5.0


def stop_with_parent(parent: int | None) -> None:
    """End this process when ``parent`` (the sweep's process) is gone: SIGTERM at once, SIGKILL after the grace.

    Two mechanisms, because neither covers every case: Linux's parent-death signal arrives at the moment the
    parent dies, but only on Linux (and it fires when the parent *thread* that started us ends); a thread that
    watches the parent's process id catches the rest, including a parent that died before this line ran.
    """
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl (another libc): the watcher below still works
            pass
    threading.Thread(target=_watch_parent, args=(parent,), name="dlbook-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    # Re-parented: the sweep is gone. SIGTERM lets the run record itself as interrupted at its next batch.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


def _parent_from_environment() -> int | None:
    value = os.environ.get(PARENT_VARIABLE, "")
    return int(value) if value.isdigit() else None


def run(job_file: Path, result_file: Path) -> None:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals

    job = pickle.loads(job_file.read_bytes())
    Singleton.set_state(job["singletons"])
    setup_globals()
    result = run_job(
        hydra_context=job["hydra_context"],
        task_function=job["task_function"],
        config=job["config"],
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    result._return_value = _picklable(result._return_value)
    temporary = result_file.with_name(result_file.name + ".tmp")
    temporary.write_bytes(cloudpickle.dumps(result))
    temporary.replace(result_file)


if __name__ == "__main__":
    stop_with_parent(_parent_from_environment())
    run(Path(sys.argv[1]), Path(sys.argv[2]))
