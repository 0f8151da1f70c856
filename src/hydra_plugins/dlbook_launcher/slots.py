"""Where sweep jobs may run: the machine's GPUs, grouped and shared per the launcher's settings, or CPU workers.

GPUs are found without importing TensorFlow in the launching process (it would hold GPU memory for the
whole sweep): ``CUDA_VISIBLE_DEVICES`` when it is set, else the GPUs that ``nvidia-smi -L`` lists.

(No ``from __future__ import annotations`` here: Hydra imports every module of ``hydra_plugins`` in a way
that breaks dataclasses with string annotations.)
"""

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dlbook.errors import ConfigError


@dataclass(frozen=True)
class Slot:
    """One place a job can run: the GPU ids it sees (none for a CPU worker) and its environment additions."""

    label: str
    gpus: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


def detect_gpus() -> list[str]:
    """The ids of the GPUs this machine offers to jobs, without importing TensorFlow."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [device.strip() for device in visible.split(",") if device.strip() and device.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if listing.returncode != 0:
        return []
    return re.findall(r"^GPU (\d+):", listing.stdout, flags=re.MULTILINE)


def _gpu_list(gpus: Any) -> list[str]:
    if gpus == "auto":
        return detect_gpus()
    if gpus is None:
        return []
    if isinstance(gpus, (int, str)):
        gpus = [gpus]
    if not isinstance(gpus, Sequence) or isinstance(gpus, str):
        raise ConfigError(
            f"hydra.launcher.gpus={gpus!r} is not valid: give auto (detect them), a list of GPU ids such as "
            "[0,1,2,3], or [] to run on CPU workers."
        )
    ids = [str(gpu).strip() for gpu in gpus]
    if any(not gpu for gpu in ids) or len(set(ids)) != len(ids):
        raise ConfigError(
            f"hydra.launcher.gpus={list(gpus)!r} is not valid: the GPU ids must be distinct and non-empty, "
            "e.g. [0,1,2,3]."
        )
    return ids


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"hydra.launcher.{name}={value!r} is not valid: give a whole number >= 1.")
    return value


def cpu_threads(cpu_workers: int, threads_per_job: Any) -> int:
    """TensorFlow threads for each of ``cpu_workers`` parallel CPU jobs: the cores shared out, unless set."""
    if threads_per_job == "auto":
        return max(1, (os.cpu_count() or 1) // cpu_workers)
    return _positive("threads_per_job", threads_per_job)


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap TensorFlow's (and OpenMP's) thread pools of one job."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(min(2, threads)),
        "OMP_NUM_THREADS": str(threads),
    }


def plan_slots(
    gpus: Any, jobs_per_gpu: int, gpus_per_job: int, cpu_workers: int, threads_per_job: Any = "auto"
) -> list[Slot]:
    """Every slot a job can take; a GPU group appears ``jobs_per_gpu`` times (that many jobs share it at once).

    With GPUs, they are grouped ``gpus_per_job`` at a time (GPUs left over are not used); without, there are
    ``cpu_workers`` CPU slots, each job seeing no GPU and limited to its share of the cores.
    """
    jobs_per_gpu = _positive("jobs_per_gpu", jobs_per_gpu)
    gpus_per_job = _positive("gpus_per_job", gpus_per_job)
    cpu_workers = _positive("cpu_workers", cpu_workers)
    ids = _gpu_list(gpus)
    if not ids:
        threads = cpu_threads(cpu_workers, threads_per_job)
        env = {"CUDA_VISIBLE_DEVICES": "", **thread_env(threads)}
        return [Slot(label=f"cpu{index}", env=env) for index in range(cpu_workers)]
    if gpus_per_job > len(ids):
        raise ConfigError(
            f"hydra.launcher.gpus_per_job={gpus_per_job} is not valid with {len(ids)} GPU(s) ({', '.join(ids)}): "
            f"give at most {len(ids)}, or more GPUs with hydra.launcher.gpus=[...]."
        )
    groups = [tuple(ids[start : start + gpus_per_job]) for start in range(0, len(ids) - gpus_per_job + 1, gpus_per_job)]
    slots = []
    for _ in range(jobs_per_gpu):
        for group in groups:
            slots.append(Slot(label="gpu" + "+".join(group), gpus=group, env={"CUDA_VISIBLE_DEVICES": ",".join(group)}))
    return slots
