"""The process of one sweep job: ``python -m hydra_plugins.dlbook_launcher.worker <job file> <result file>``.

The launcher pickles what Hydra's own launchers hand to ``run_job`` (the job's composed config, the Hydra
context, the task function, Hydra's global state); this process runs the job and pickles its JobReturn back.
Running every job in a fresh process matters for TensorFlow, which keeps GPU memory until its process ends.
"""

from __future__ import annotations

import pickle
import sys
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
    run(Path(sys.argv[1]), Path(sys.argv[2]))
