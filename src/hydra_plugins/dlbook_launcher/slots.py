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


def memory_fraction(value: Any, jobs_per_gpu: int) -> float | None:
    """The fraction of a GPU's memory each job may take: ``auto`` shares 90% of it out equally among the
    ``jobs_per_gpu`` jobs on it (the rest is left for each process's CUDA context), and sets nothing for a job
    alone on its GPU; a number in (0, 1] is taken as given."""
    if value == "auto" or value is None:
        return None if jobs_per_gpu == 1 else round(0.9 / jobs_per_gpu, 4)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(
            f"hydra.launcher.gpu_memory_fraction={value!r} is not valid: give auto (90% of the GPU's memory shared "
            "equally by the jobs_per_gpu jobs on it) or a number in (0, 1], the fraction of each GPU's memory one "
            "job may take, e.g. 0.45 for two jobs per GPU."
        )
    return float(value)


def gpu_memory_mb() -> dict[str, int]:
    """Total memory in MiB of each GPU, by id, as ``nvidia-smi`` reports it (empty without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return {}
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    sizes = re.findall(r"^\s*(\d+)\s*,\s*(\d+)\s*$", listing.stdout, flags=re.MULTILINE)
    return {index: int(size) for index, size in sizes} if listing.returncode == 0 else {}


def memory_env(fraction: float | None, group: tuple[str, ...], sizes: dict[str, int]) -> dict[str, str]:
    """Environment variables that hold a job to ``fraction`` of its GPUs' memory (none when ``fraction`` is None).

    TensorFlow: memory growth (``TF_FORCE_GPU_ALLOW_GROWTH``), and a limit in MiB that the job applies as a
    logical device (dlbook.run.runtime) when the GPUs' sizes are known; JAX: ``XLA_PYTHON_CLIENT_MEM_FRACTION``.
    """
    if fraction is None:
        return {}
    env = {
        "DLBOOK_GPU_MEMORY_FRACTION": str(fraction),
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.4g}",
    }
    if all(gpu in sizes for gpu in group):
        env["DLBOOK_GPU_MEMORY_LIMIT_MB"] = str(int(fraction * min(sizes[gpu] for gpu in group)))
    return env


def plan_slots(
    gpus: Any,
    jobs_per_gpu: int,
    gpus_per_job: int,
    cpu_workers: int,
    threads_per_job: Any = "auto",
    gpu_memory_fraction: Any = "auto",
) -> list[Slot]:
    """Every slot a job can take; a GPU group appears ``jobs_per_gpu`` times (that many jobs share it at once).

    With GPUs, they are grouped ``gpus_per_job`` at a time (GPUs left over are not used), and jobs that share
    a GPU each get their share of its memory; without, there are ``cpu_workers`` CPU slots, each job seeing no
    GPU. Either way each job is limited to its share of the CPU cores.
    """
    jobs_per_gpu = _positive("jobs_per_gpu", jobs_per_gpu)
    gpus_per_job = _positive("gpus_per_job", gpus_per_job)
    cpu_workers = _positive("cpu_workers", cpu_workers)
    fraction = memory_fraction(gpu_memory_fraction, jobs_per_gpu)
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
    # GPU jobs feed their GPUs from the CPU (input pipelines, host-side ops): they share the cores too.
    threads = cpu_threads(len(groups) * jobs_per_gpu, threads_per_job)
    sizes = gpu_memory_mb() if fraction is not None else {}
    slots = []
    for _ in range(jobs_per_gpu):
        for group in groups:
            env = {"CUDA_VISIBLE_DEVICES": ",".join(group), **thread_env(threads), **memory_env(fraction, group, sizes)}
            slots.append(Slot(label="gpu" + "+".join(group), gpus=group, env=env))
    return slots
