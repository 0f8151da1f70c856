"""One process at a time in a run or sweep directory: a second resume is refused, a killed run never locks out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import DLBOOK, read, run_dlbook

from dlbook.run.run_lock import LOCK_FILE, DirectoryBusy, hold, release

HOLDER = (
    "import sys, time; from dlbook.run.run_lock import hold; hold(sys.argv[1]); print('held', flush=True); "
    "time.sleep(600)"
)


def start_holder(folder: Path) -> subprocess.Popen:
    """Another process that holds ``folder``'s lock until it is killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_directory_is_refused_until_its_holder_dies(tmp_path):
    holder = start_holder(tmp_path / "run")
    try:
        with pytest.raises(DirectoryBusy, match=rf"resume=.*run is not valid now: .*\(kill {holder.pid}\)"):
            hold(tmp_path / "run")
    finally:
        holder.send_signal(signal.SIGKILL)  # no chance to clean up: the system drops the lock anyway
        holder.wait()
    hold(tmp_path / "run")
    hold(tmp_path / "run")  # holding twice in one process is no error
    release(tmp_path / "run")
    again = start_holder(tmp_path / "run")  # released: another process may take it
    again.kill()
    again.wait()


def test_a_resume_is_refused_before_hydra_writes_into_a_held_run(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- debug=fast\n")
    (run / "status.json").write_text('{"status": "running"}\n')
    holder = start_holder(run)
    before = sorted(path.name for path in run.rglob("*"))
    try:
        refused = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 2
    assert refused.stderr.startswith("dlbook: error: resume=run is not valid now: another dlbook process ")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert sorted(path.name for path in run.rglob("*")) == before  # no train.log, no new .hydra files


def wait_for_lock(process: subprocess.Popen, folder: Path) -> None:
    """Wait until ``process`` holds ``folder``'s lock (its pid is in the lock file)."""
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        try:
            if (folder / LOCK_FILE).read_text().strip() == str(process.pid):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"process {process.pid} never held {folder}")


@pytest.mark.slow
def test_one_process_at_a_time_in_a_run_and_a_killed_run_resumes(tmp_path):
    environment = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")

    def start(*arguments: str) -> subprocess.Popen:
        command = [*DLBOOK, "train", *arguments]
        return subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)

    run = tmp_path / "run"
    original = start("debug=fast", "trainer.max_epochs=30", "hydra.run.dir=run")
    wait_for_lock(original, run)
    while_running = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=120)
    assert while_running.returncode == 2, while_running.stderr
    assert f"another dlbook process {original.pid} is working in that run" in while_running.stderr
    original.send_signal(signal.SIGKILL)
    original.communicate()
    assert read(run / "status.json")["status"] == "running"  # what a killed process leaves

    first = start("resume=run")  # the killed run's lock went with its process
    wait_for_lock(first, run)
    second = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=120)
    assert second.returncode == 2
    assert second.stderr.startswith("dlbook: error: resume=run is not valid now: another dlbook process ")
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    _, errors = first.communicate(timeout=300)
    assert first.returncode == 0, errors
    status = read(run / "status.json")
    assert status["status"] == "completed" and status["resumed"] == 1
