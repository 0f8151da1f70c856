"""dlbook's launcher: GPU dispatch (simulated GPU lists), CPU workers, failures, and a real dlbook sweep."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import read, run_dlbook

from dlbook.errors import ConfigError
from hydra_plugins.dlbook_launcher.slots import detect_gpus, plan_slots

APP = Path(__file__).parent / "launcher_app" / "app.py"


def run_app(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(APP), "-m", *overrides], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )


def job_records(tmp_path: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((tmp_path / "sweep").glob("*/job.json"))]


def max_sharing(records: list[dict]) -> dict[str, int]:
    """For each GPU id, the largest number of jobs that ran on it at the same moment."""
    events = []
    for record in records:
        for gpu in record["cuda_visible_devices"].split(","):
            events += [(record["start"], 1, gpu), (record["end"], -1, gpu)]
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    for _, change, gpu in sorted(events, key=lambda event: (event[0], event[1])):  # ends before starts at a tie
        running[gpu] = running.get(gpu, 0) + change
        peak[gpu] = max(peak.get(gpu, 0), running[gpu])
    return peak


def test_seven_jobs_on_three_simulated_gpus_never_share_one(tmp_path):
    done = run_app(tmp_path, "index=range(7)", "hydra.launcher.gpus=[0,1,2]")
    assert done.returncode == 0, done.stderr
    records = job_records(tmp_path)
    assert sorted(record["index"] for record in records) == list(range(7))
    assert all(record["cuda_visible_devices"] in {"0", "1", "2"} for record in records)
    assert max(max_sharing(records).values()) == 1
    assert len({record["pid"] for record in records}) == 7  # a fresh process per job
    # Three slots were really used in parallel: more than one GPU id was busy.
    assert len({record["cuda_visible_devices"] for record in records}) == 3


def test_jobs_per_gpu_packs_at_most_that_many_jobs_on_a_gpu(tmp_path):
    done = run_app(
        tmp_path, "index=range(6)", "seconds=1.0", "hydra.launcher.gpus=[0]", "hydra.launcher.jobs_per_gpu=2"
    )
    assert done.returncode == 0, done.stderr
    records = job_records(tmp_path)
    assert len(records) == 6
    assert max_sharing(records) == {"0": 2}


def test_gpus_per_job_gives_each_job_a_group_of_gpus(tmp_path):
    done = run_app(tmp_path, "index=range(4)", "hydra.launcher.gpus=[0,1,2,3]", "hydra.launcher.gpus_per_job=2")
    assert done.returncode == 0, done.stderr
    records = job_records(tmp_path)
    assert {record["cuda_visible_devices"] for record in records} == {"0,1", "2,3"}
    assert max(max_sharing(records).values()) == 1


def test_cpu_workers_see_no_gpu_and_share_the_cores(tmp_path):
    done = run_app(tmp_path, "index=range(2)", "hydra.launcher.cpu_workers=2", "hydra.launcher.threads_per_job=3")
    assert done.returncode == 0, done.stderr
    records = job_records(tmp_path)
    assert [record["cuda_visible_devices"] for record in records] == ["", ""]
    assert [record["intra_op_threads"] for record in records] == ["3", "3"]


def test_a_job_that_raises_or_dies_does_not_stop_the_others(tmp_path):
    done = run_app(tmp_path, "index=0,1", "behaviour=work,raise,kill", "hydra.launcher.cpu_workers=2")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # failures are recorded, the sweep itself succeeds
    assert sorted(record["index"] for record in job_records(tmp_path)) == [0, 1]  # both "work" jobs ran to the end
    assert "4 of 6 jobs failed" in output
    assert output.count("ValueError: job") == 2
    assert output.count("its process was killed by SIGKILL") == 2
    assert len(list((tmp_path / "sweep").glob("*/output.log"))) == 6


def test_an_error_that_does_not_unpickle_still_comes_back_as_a_failure(tmp_path):
    done = run_app(tmp_path, "index=0,1", "behaviour=work,stubborn")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "StubbornError: job 0 failed stubbornly" in output and "2 of 4 jobs failed" in output
    assert sorted(record["index"] for record in job_records(tmp_path)) == [0, 1]


def test_fail_fast_stops_starting_jobs_and_exits_non_zero(tmp_path):
    done = run_app(tmp_path, "index=0,1,2,3", "behaviour=raise", "hydra.launcher.fail_fast=true")
    assert done.returncode != 0
    assert "fail_fast=true: job 0 failed (ValueError: job 0 was told to fail), so 3 job(s) were not started" in (
        done.stderr
    )


def test_simulated_gpu_lists_and_bad_settings():
    assert [slot.env["CUDA_VISIBLE_DEVICES"] for slot in plan_slots([0, 1, 2], 1, 1, 1)] == ["0", "1", "2"]
    assert [slot.gpus for slot in plan_slots([0, 1, 2, 3, 4], 2, 2, 1)] == [("0", "1"), ("2", "3")] * 2
    assert [slot.label for slot in plan_slots([], 1, 1, 3)] == ["cpu0", "cpu1", "cpu2"]
    with pytest.raises(ConfigError, match=r"hydra.launcher.gpus_per_job=4 is not valid with 2 GPU\(s\)"):
        plan_slots([0, 1], 1, 4, 1)
    with pytest.raises(ConfigError, match=r"hydra.launcher.cpu_workers=0 is not valid"):
        plan_slots([], 1, 1, 0)
    with pytest.raises(ConfigError, match=r"hydra.launcher.gpus=\['0', '0'\] is not valid"):
        plan_slots(["0", "0"], 1, 1, 1)


def test_gpus_auto_respects_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert detect_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_gpus() == []


@pytest.mark.slow
def test_dlbook_sweep_on_two_cpu_workers_with_a_failing_job(tmp_path):
    done = run_dlbook(
        "train", "-m", "debug=fast", "model.units=8,-1", "hydra.launcher.cpu_workers=2", cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    jobs = sorted((tmp_path / "outputs" / "multirun" / "boston_housing").glob("*/[0-9]*"))
    assert [read(job / "status.json")["status"] for job in jobs] == ["completed", "failed"]
    assert "model.units=-1 with model.depth=2 is not valid" in read(jobs[1] / "status.json")["error"]["message"]
    launcher = read(jobs[0] / "provenance.json")["launcher"]
    assert launcher["slot"] in {"cpu0", "cpu1"} and launcher["cuda_visible_devices"] == ""
    assert launcher["intra_op_threads"] >= 1
    assert (jobs[0] / "output.log").exists() and (jobs[1] / "output.log").exists()
    with open(jobs[0].parent / "summary.csv", newline="") as file:
        rows = {row["model.units"]: row for row in csv.DictReader(file)}
    assert rows["8"]["status"] == "completed" and rows["-1"]["status"] == "failed"


def _process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process from /proc, or None when it no longer exists."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _process_state(int(entry.name))
            if state is not None and state[1] == pid and state[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    state = _process_state(pid)
    return state is not None and state[0] != "Z"  # a zombie has ended; only its exit status is left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux's /proc")
def test_a_killed_sweep_leaves_no_job_running_and_resumes_once_at_a_time(tmp_path):
    import os
    import time

    from cli_runner import DLBOOK

    environment = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    sweep = subprocess.Popen(
        # 30 short epochs per fit: jobs long enough for a job left running to be seen.
        [*DLBOOK, "train", "-m", "debug=fast", "trainer.max_epochs=30", "seed=1,2", "hydra.launcher.cpu_workers=2"]
        + ["hydra.sweep.dir=sweep"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    statuses = [tmp_path / "sweep" / job / "status.json" for job in ("0", "1")]
    deadline = time.time() + 240
    while time.time() < deadline and sweep.poll() is None and not all(status.exists() for status in statuses):
        time.sleep(0.05)
    jobs = _children(sweep.pid)
    assert sweep.poll() is None and len(jobs) == 2, "both jobs should be running"
    sweep.kill()  # SIGKILL: the sweep's process gets no chance to stop its jobs itself
    sweep.wait()
    deadline = time.time() + 10  # SIGTERM at once, SIGKILL after the jobs' grace of a few seconds
    while time.time() < deadline and any(_alive(job) for job in jobs):
        time.sleep(0.1)
    assert [job for job in jobs if _alive(job)] == []
    assert {read(status)["status"] for status in statuses} <= {"running", "interrupted"}

    # Two resumes at once: the second is refused while the first works in the sweep.
    first = subprocess.Popen(
        [*DLBOOK, "train", "-m", "resume=sweep"], cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True
    )
    lock = tmp_path / "sweep" / ".dlbook.lock"
    deadline = time.time() + 60
    while time.time() < deadline and first.poll() is None and lock.read_text().strip() != str(first.pid):
        time.sleep(0.05)
    second = run_dlbook("train", "-m", "resume=sweep", cwd=tmp_path, timeout=300)
    assert second.returncode == 2
    assert second.stderr.startswith("dlbook: error: resume=sweep is not valid now: another dlbook process ")
    assert f"(kill {first.pid})" in second.stderr and "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1

    _, errors = first.communicate(timeout=300)
    assert first.returncode == 0, errors
    assert [read(status)["status"] for status in statuses] == ["completed", "completed"]
    assert (tmp_path / "sweep" / "summary.csv").exists()
