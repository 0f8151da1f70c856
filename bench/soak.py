"""Benchmark (reliability soak): a 40-job sweep in which 3 jobs fail in different ways, then its resume.

`dlbook train -m debug=fast seed=0,...,39` on two CPU workers, with bench/soak/chaos.py making job 7 raise
an exception, job 19's loss turn NaN and job 31 kill its own process (SIGKILL). Reported: jobs completed,
jobs failed as intended (and how: the type in status.json), results lost (jobs that should have completed
but have no metrics.json: must be 0). Then `dlbook train -m resume=<sweep dir>`: which jobs ran again (must
be exactly the 3), and whether all 40 are then completed.

Usage: python bench/soak.py [--jobs 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAULTS = {7: "RuntimeError", 19: "NonFiniteLoss", 31: "JobDied"}


def dlbook(arguments: list[str], workdir: Path) -> float:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE / "soak"), os.environ.get("PYTHONPATH", "")]))
    environment["KERAS_HOME"] = str(workdir / "keras_home")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dlbook", "train", *arguments],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"dlbook train {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def statuses(sweep: Path, jobs: int) -> dict[int, dict]:
    result = {}
    for job in range(jobs):
        status_file = sweep / str(job) / "status.json"
        result[job] = json.loads(status_file.read_text()) if status_file.exists() else {"status": "missing"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    faults = {job: kind for job, kind in FAULTS.items() if job < options.jobs}
    chaos = "+callbacks.chaos={_target_:chaos.Chaos,raise_on:[7],nan_on:[19],kill_on:[31]}"
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        sweep = workdir / "sweep"
        arguments = [
            "-m",
            "debug=fast",
            f"seed=range({options.jobs})",
            f"hydra.launcher.cpu_workers={options.workers}",
            "hydra.launcher.progress=false",
            f"hydra.sweep.dir={sweep}",
            chaos,
        ]
        sweep_seconds = dlbook(arguments, workdir)
        first = statuses(sweep, options.jobs)
        completed = [job for job, status in first.items() if status["status"] == "completed"]
        failed = {
            job: status.get("error", {}).get("type") for job, status in first.items() if status["status"] == "failed"
        }
        lost = [
            job for job in range(options.jobs) if job not in faults and not (sweep / str(job) / "metrics.json").exists()
        ]
        before = {job: (sweep / str(job) / "status.json").read_text() for job in completed}
        resume_seconds = dlbook(["-m", f"resume={sweep}", "hydra.launcher.progress=false"], workdir)
        second = statuses(sweep, options.jobs)
        ran_again = [
            job
            for job in range(options.jobs)
            if job not in before or (sweep / str(job) / "status.json").read_text() != before[job]
        ]
        result = {
            "benchmark": "soak (reliability)",
            "jobs": options.jobs,
            "cpu_workers": options.workers,
            "sweep_seconds": round(sweep_seconds, 1),
            "completed": len(completed),
            "failed": {str(job): kind for job, kind in sorted(failed.items())},
            "failed_as_intended": failed == faults,
            "results_lost": len(lost),
            "resume_seconds": round(resume_seconds, 1),
            "ran_again_on_resume": ran_again,
            "completed_after_resume": sum(status["status"] == "completed" for status in second.values()),
        }
    print(json.dumps(result, indent=2))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    if not (result["failed_as_intended"] and result["results_lost"] == 0 and ran_again == sorted(faults)):
        raise SystemExit("soak: unexpected outcome (see above)")


if __name__ == "__main__":
    main()
