"""Faults on a real SLURM: a cancelled task and a task past its time limit end the sweep `interrupted`.

The tests start a single-node cluster of their own (munged, slurmctld and slurmd of Debian's slurm-wlm
and munge packages, with a slurm.conf in a temporary folder and ports of their own), as root, as CI
runs. Where the daemons are missing and cannot be installed, or without root, they are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cli_runner import DLBOOK, read

pytestmark = pytest.mark.slow

JOBS = Path(__file__).parent / "slurm_jobs"  # the Hold callback, put on the jobs' PYTHONPATH
SRC = Path(__file__).resolve().parents[2] / "src"
SLURM_CONF = """\
ClusterName=dlbooktest
SlurmctldHost={host}
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
KillWait=5
MinJobAge=600
InactiveLimit=0
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _install_or_skip() -> None:
    if all(shutil.which(name) for name in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel")):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("SLURM (Debian's slurm-wlm and munge) is not installed, and cannot be installed here")
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"], env=environment, capture_output=True, timeout=900
    )
    if done.returncode != 0:
        pytest.skip(f"apt-get install slurm-wlm munge failed: {done.stderr.decode()[-500:]}")


def _munge_running() -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True)
    decoded = subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True)
    return encoded.returncode == 0 and decoded.returncode == 0


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> dict:
    """A running single-node cluster; the environment (SLURM_CONF) that its commands need."""
    if os.geteuid() != 0:
        pytest.skip("starting munged, slurmctld and slurmd needs root (as CI runs)")
    _install_or_skip()
    folder = tmp_path_factory.mktemp("slurm")
    (folder / "state").mkdir()
    (folder / "spool").mkdir()
    if not _munge_running():
        Path("/run/munge").mkdir(exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], check=True, timeout=60)
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    host = socket.gethostname()
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, folder=folder, cpus=os.cpu_count(), memory=memory_mb))
    environment = dict(os.environ, SLURM_CONF=str(conf))
    for daemon in ("slurmctld", "slurmd"):
        subprocess.run([daemon, "-f", str(conf)], env=environment, check=True, timeout=60)
    deadline = time.time() + 60
    while time.time() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=environment, capture_output=True, text=True).stdout
        if state.strip() == "idle":
            break
        time.sleep(1)
    else:
        pytest.fail(f"the test cluster's node never became idle; slurmd.log: {(folder / 'slurmd.log').read_text()}")
    yield environment
    # Jobs first (a job left running would keep its step daemon after the cluster stops), then the daemons.
    subprocess.run(["scancel", "--partition=debug"], env=environment, timeout=60)
    deadline = time.time() + 30
    while time.time() < deadline:
        listed = subprocess.run(["squeue", "-h"], env=environment, capture_output=True, text=True).stdout
        if not listed.strip():
            break
        time.sleep(1)
    subprocess.run(["scontrol", "shutdown"], env=environment, timeout=60)


def start_sweep(cwd: Path, slurm: dict, *arguments: str) -> subprocess.Popen:
    environment = dict(slurm, KERAS_HOME=str(cwd / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    environment["PYTHONPATH"] = os.pathsep.join([str(SRC), str(JOBS), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [*DLBOOK, "train", "-m", *arguments], cwd=cwd, env=environment, stderr=subprocess.PIPE, text=True
    )


# One CPU and 1 GB per job, no GPU: the single node has neither many cores nor GPUs.
ON_THIS_NODE = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]


def hold(marker: Path, jobs: str) -> str:
    return f"+callbacks.hold={{_target_:hold.Hold,marker:{marker},jobs:{jobs}}}"


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def status(path: Path) -> str | None:
    try:
        return read(path / "status.json")["status"]
    except (OSError, ValueError):
        return None


def test_a_cancelled_task_ends_the_sweep_interrupted_and_resume_runs_only_that_job(tmp_path, slurm):
    marker = tmp_path / "hold"
    marker.touch()  # job 1 waits at its first batch until cancelled
    sweep = tmp_path / "sweep"
    arguments = ["debug=fast", "seed=1,2", hold(marker, "[1]"), "hydra.sweep.dir=sweep"]
    process = start_sweep(tmp_path, slurm, *ON_THIS_NODE, *arguments)
    wait_for(lambda: status(sweep / "0") == "completed" and status(sweep / "1") == "running", 300, "job 1 held")
    (task,) = [path.name for path in (sweep / ".submitit").iterdir() if path.name.endswith("_1")]
    subprocess.run(["scancel", task], env=slurm, check=True, timeout=60)
    _, errors = process.communicate(timeout=180)  # before: submitit waited for ever (no accounting)
    assert process.returncode == 0, errors
    job_1 = read(sweep / "1" / "status.json")
    assert job_1["status"] == "interrupted" and job_1["resume"]
    summary = (sweep / "summary.csv").read_text()
    assert "interrupted" in summary and "completed" in summary
    completed = (sweep / "0" / "status.json").read_text()

    marker.unlink()
    resumed = start_sweep(tmp_path, slurm, "resume=sweep")
    _, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errors
    assert (sweep / "0" / "status.json").read_text() == completed  # job 0 did not run again
    job_1 = read(sweep / "1" / "status.json")
    assert job_1["status"] == "completed" and job_1["resumed"] == 1


def test_a_job_past_its_time_limit_ends_interrupted(tmp_path, slurm):
    marker = tmp_path / "hold"
    marker.touch()  # the job never gets past its first batch
    sweep = tmp_path / "sweep"
    limits = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=20"]
    arguments = ["debug=fast", hold(marker, "[0]"), "hydra.sweep.dir=sweep"]
    process = start_sweep(tmp_path, slurm, *ON_THIS_NODE, *limits, *arguments)
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 0, errors
    job = read(sweep / "0" / "status.json")
    assert job["status"] == "interrupted", job  # before: `running` for ever, and the sweep never ended
    assert "time limit" in job["signal"]
