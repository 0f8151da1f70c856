"""Benchmark: wall time of one sweep on dlbook's launcher (CPU workers in parallel) against Hydra's basic launcher.

Both sides run the same sweep, `dlbook train -m <job overrides> seed=0,...,N-1` of the default experiment
(Boston housing): once with dlbook's launcher and `hydra.launcher.cpu_workers=2` (each job a fresh process,
two at a time), once with `hydra/launcher=basic` (Hydra's sequential launcher, every job in the one process).
The two alternate over rounds, the order flipping each round; the figures are the median wall times and the
ratio basic / parallel (above 1: the parallel launcher finishes the sweep sooner). Every job of every sweep
must end `completed` with its metrics.json, or the benchmark stops.

The jobs are `debug=fast` runs made a little longer (two epochs of full folds instead of three steps): a job
is then about as much work as TensorFlow's import, as in a short real sweep, rather than an import alone,
which would favour the basic launcher even more (it imports TensorFlow once for all jobs, dlbook's launcher
once per job).

Usage: python bench/sweep_throughput.py [--rounds 3] [--jobs 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
# debug=fast, then longer: 2 epochs of every fold without the step cap. In a process that has TensorFlow
# imported already, such a job runs in about 6 s here; a fresh process needs about as long to start and import.
JOB_OVERRIDES = ["debug=fast", "trainer.max_epochs=2", "trainer.max_steps=null"]


def launcher_overrides(workers: int) -> dict[str, list[str]]:
    """The two sides: dlbook's launcher with ``workers`` CPU workers, and Hydra's sequential launcher."""
    return {
        "parallel": [f"hydra.launcher.cpu_workers={workers}", "hydra.launcher.progress=false"],
        "basic": ["hydra/launcher=basic"],
    }


def run_sweep(workdir: Path, jobs: int, overrides: list[str], job_overrides: list[str]) -> float:
    """Seconds of `dlbook train -m ...` from start to exit, run in ``workdir``; fails if the command fails."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_HOME=str(workdir / "keras_home"))
    seeds = ",".join(str(seed) for seed in range(jobs))
    command = [sys.executable, "-m", "dlbook", "train", "-m", *job_overrides, f"seed={seeds}", *overrides]
    workdir.mkdir(parents=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:])} failed in {workdir}:\n{done.stderr[-3000:]}")
    return seconds


def check_jobs(workdir: Path, jobs: int) -> tuple[int, list[float]]:
    """The most jobs of the sweep in ``workdir`` that ran at the same moment, and each job's seconds from its
    status.json (the run itself: process start and imports not included); stops unless every job completed."""
    status_files = sorted(workdir.glob("outputs/multirun/*/*/*/status.json"))
    statuses = [json.loads(path.read_text()) for path in status_files]
    completed = sum(
        status["status"] == "completed" and path.with_name("metrics.json").exists()
        for status, path in zip(statuses, status_files, strict=True)
    )
    if len(statuses) != jobs or completed != jobs:
        raise SystemExit(f"{workdir}: {completed} of {jobs} jobs completed ({len(statuses)} status files)")
    events = []
    for status in statuses:
        events += [(datetime.fromisoformat(status["started"]), 1), (datetime.fromisoformat(status["ended"]), -1)]
    job_seconds = [
        (datetime.fromisoformat(status["ended"]) - datetime.fromisoformat(status["started"])).total_seconds()
        for status in statuses
    ]
    running = peak = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):  # an end before a start at a tie
        running += change
        peak = max(peak, running)
    return peak, job_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sweep_throughput.json")
    arguments = parser.parse_args()
    sides = launcher_overrides(arguments.workers)
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    concurrency: dict[str, list[int]] = {name: [] for name in sides}
    job_seconds: dict[str, list[float]] = {name: [] for name in sides}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(arguments.rounds):
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for name in order:
                workdir = Path(folder) / f"{name}_{round_index}"
                seconds[name].append(run_sweep(workdir, arguments.jobs, sides[name], JOB_OVERRIDES))
                peak, durations = check_jobs(workdir, arguments.jobs)
                concurrency[name].append(peak)
                job_seconds[name] += durations
            print(
                f"round {round_index + 1}: "
                + ", ".join(
                    f"{name} {values[-1]:.1f} s (at most {concurrency[name][-1]} at once)"
                    for name, values in seconds.items()
                ),
                flush=True,
            )
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "benchmark": f"sweep throughput ({arguments.jobs} jobs; dlbook cpu_workers={arguments.workers} vs basic)",
        "job_overrides": " ".join(JOB_OVERRIDES),
        "jobs": arguments.jobs,
        "rounds": arguments.rounds,
        "parallel_seconds": medians["parallel"],
        "basic_seconds": medians["basic"],
        "ratio_basic_over_parallel": medians["basic"] / medians["parallel"],
        "parallel_seconds_all": [round(value, 1) for value in seconds["parallel"]],
        "basic_seconds_all": [round(value, 1) for value in seconds["basic"]],
        "parallel_most_jobs_at_once": max(concurrency["parallel"]),
        "basic_most_jobs_at_once": max(concurrency["basic"]),
        # Median seconds of a job's run (status.json start to end). dlbook imports TensorFlow inside the run,
        # so in a fresh process (parallel) this includes the import; with basic, only the first job's does.
        "parallel_job_run_seconds": statistics.median(job_seconds["parallel"]),
        "basic_job_run_seconds": statistics.median(job_seconds["basic"]),
        "jobs_completed": f"{arguments.jobs}/{arguments.jobs} in every sweep, both launchers",
        "cpu_count": os.cpu_count(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": platform.machine(),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow"),
        "keras": version("keras"),
    }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
