"""``hydra/launcher=slurm``: hydra-submitit-launcher's SLURM launcher, with an ending for every job.

submitit learns that an array task ended from its result file, or else from ``sacct``, SLURM's accounting.
On a cluster without accounting (no slurmdbd) a task that never writes its result (cancelled with
``scancel``, killed at its time limit) stays "unknown" for ever, and the sweep's process waits for ever.
This launcher waits for each job itself: the result file, or SLURM's own queue (``squeue``, which keeps an
ended job's state for a while) saying that the job has ended. A job that ended without a result is a
failed JobReturn, and its status.json never stays ``running``: it says ``interrupted``, with the reason
(cancelled, time limit) and the resume command, so `dlbook train -m resume=<sweep>` runs it again.

In the job itself, SLURM's warning before the time limit (submitit's ``--signal=USR2@signal_delay_s``) stops
the run as interrupted at its next batch, like SIGTERM; submitit's own reaction (requeue the job, or raise
in the middle of training) would leave a run that a resume cannot continue.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

# Modules, not classes, so that Hydra's plugin scan of this module finds dlbook's launcher only.
try:
    from hydra_plugins.hydra_submitit_launcher import config as submitit_config
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher
except ImportError:  # no slurm extra: Hydra scans this module at every start and must find nothing, not fail
    submitit_config = submitit_launcher = None

log = logging.getLogger("dlbook")

# SLURM job states after which a job runs no more (squeue keeps them for MinJobAge seconds).
ENDED = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "TIMEOUT",
}
REASONS = {"CANCELLED": "cancelled (scancel)", "TIMEOUT": "time limit (hydra.launcher.timeout_min)"}
POLL_SECONDS = 2.0
# Polls in a row in which squeue no longer knows a job before it counts as ended (a new job may not be
# listed yet for a moment).
GONE_POLLS = 3


class JobEndedWithoutResult(RuntimeError):
    """A SLURM job ended (cancelled, time limit, node failure) without handing back its result."""


class DlbookSlurmLauncher(submitit_launcher.SlurmLauncher if submitit_launcher else object):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Submit the jobs as one array, as hydra-submitit-launcher does; wait for each with :func:`_wait`."""
        import submitit

        assert self.config is not None
        params = dict(self.params)
        init_params = {"folder": params["submitit_folder"]}
        if "max_num_timeout" in params:
            init_params[f"{self._EXECUTOR}_max_num_timeout"] = params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        known = set(OmegaConf.structured(submitit_config.BaseQueueConf).keys())
        executor.update_parameters(
            **{
                (key if key in known else f"{self._EXECUTOR}_{key}"): value
                for key, value in params.items()
                if key not in ("submitit_folder", "max_num_timeout")
            }
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Submitting %d jobs to SLURM; output in %s", len(job_overrides), sweep_dir)
        job_params: list[Any] = []
        for offset, overrides in enumerate(job_overrides):
            number = initial_job_idx + offset
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            job_params.append(
                (list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", Singleton.get_state())
            )
        jobs = executor.map_array(self, *zip(*job_params, strict=True))
        return [
            _wait(job, list(overrides), sweep_dir / str(initial_job_idx + offset))
            for offset, (job, overrides) in enumerate(zip(jobs, job_overrides, strict=True))
        ]

    def __call__(self, *arguments: Any, **keywords: Any) -> JobReturn:
        """The job, inside SLURM: the time-limit warning stops the run at its next batch, as SIGTERM does."""
        signal.signal(signal.SIGUSR2, _stop_before_the_time_limit)
        assert self.config is not None
        job_number = arguments[2] if len(arguments) > 2 else keywords["job_num"]
        try:
            return super().__call__(*arguments, **keywords)
        finally:
            if _TIME_LIMIT:
                _note_time_limit(Path(str(self.config.hydra.sweep.dir)) / str(job_number))

    def checkpoint(self, *arguments: Any, **keywords: Any) -> Any:
        """No requeue: a requeued job would start its run again from scratch; `-m resume=` continues it."""
        return None


_TIME_LIMIT: list[bool] = []  # set in the job's process when SLURM warned of the time limit


def _stop_before_the_time_limit(signal_number, frame) -> None:
    log.warning("SLURM: the job's time limit is near; stopping at the next batch (resume it with -m resume=)")
    _TIME_LIMIT.append(True)
    signal.raise_signal(signal.SIGTERM)  # dlbook's own SIGTERM handling: interrupted at a safe point


def _note_time_limit(job_dir: Path) -> None:
    """Say in an interrupted run's status.json that SLURM's time limit stopped it (not a person's SIGTERM)."""
    from dlbook.run.directory import STATUS_FILE, read_json, write_json

    status_file = job_dir / STATUS_FILE
    if status_file.exists():
        status = read_json(status_file)
        if status.get("status") == "interrupted":
            status["signal"] = REASONS["TIMEOUT"]
            write_json(status_file, status)


def _wait(job, overrides: list[str], job_dir: Path) -> JobReturn:
    """The job's JobReturn once it has ended: its own result, or a failure made here when it left none."""
    gone = 0
    while True:
        if job.paths.result_pickle.exists():
            if _slurm_state(job.job_id) == "TIMEOUT":  # stopped by SLURM's SIGTERM at the limit itself
                _note_time_limit(job_dir)
            return _result(job, overrides, job_dir)
        state = _slurm_state(job.job_id)
        if state is None:
            gone += 1
        else:
            gone = 0
        if state in ENDED or gone >= GONE_POLLS:
            time.sleep(POLL_SECONDS)  # a result written at the very end may still be on its way
            if job.paths.result_pickle.exists():
                return _result(job, overrides, job_dir)
            return _ended_without_result(job, overrides, job_dir, state or "ENDED")
        time.sleep(POLL_SECONDS)


def _result(job, overrides: list[str], job_dir: Path) -> JobReturn:
    try:
        return job.results()[0]
    except Exception as error:  # noqa: BLE001 - submitit's own error (the job raised outside the task)
        return _failed(overrides, job_dir, error)


def _slurm_state(job_id: str) -> str | None:
    """SLURM's state of ``job_id`` (an array task: ``<array>_<task>``), or None once squeue has forgotten it."""
    try:
        done = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--jobs", job_id, "--format=%T"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "UNKNOWN"  # squeue itself not answering is no proof that the job has ended
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        return "UNKNOWN"
    return lines[0].split()[0].rstrip("+") if lines else None


def _ended_without_result(job, overrides: list[str], job_dir: Path, state: str) -> JobReturn:
    """Mark the job's run interrupted (when it still says running) and make its failed JobReturn."""
    from dlbook.run.directory import STATUS_FILE, read_json, write_json

    reason = REASONS.get(state, f"SLURM job state {state}")
    status_file = job_dir / STATUS_FILE
    if status_file.exists():
        status = read_json(status_file)
        if status.get("status") == "running":
            sweep = job_dir.parent
            status.update(
                status="interrupted",
                ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                signal=reason,
                resume=f"dlbook train -m resume={sweep}",
            )
            write_json(status_file, status)
    error = JobEndedWithoutResult(
        f"job {job_dir.name} (SLURM job {job.job_id}) ended without a result: {reason}; "
        f"continue the sweep with: dlbook train -m resume={job_dir.parent}"
    )
    return _failed(overrides, job_dir, error)


def _failed(overrides: list[str], job_dir: Path, error: BaseException) -> JobReturn:
    result = JobReturn(overrides=overrides, working_dir=str(job_dir), status=JobStatus.FAILED)
    result._return_value = error
    return result
