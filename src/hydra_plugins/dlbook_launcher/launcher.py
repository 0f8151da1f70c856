"""dlbook's Hydra launcher: each sweep job in a fresh process, dispatched onto the machine's GPUs.

Jobs wait in a queue for a free slot (a GPU, a group of ``gpus_per_job`` GPUs, one of ``jobs_per_gpu`` places
on a GPU, or one of ``cpu_workers`` CPU places); a finished job frees its slot at once. Each job process sees
only its slot's GPUs through ``CUDA_VISIBLE_DEVICES`` (CPU jobs see none), gets a share of the cores (and, when
jobs share a GPU, of its memory: hydra.launcher.gpu_memory_fraction), writes
its output to ``output.log`` in its run directory, and hands back a proper JobReturn, so Hydra sweepers work
on top. A job that raises, dies or is killed is recorded as failed and never stops the others, unless
``fail_fast`` asks to stop starting new jobs (the sweep then ends with an error).
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cloudpickle
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dlbook.run.directory import display_path, run_status
from dlbook.run.run_lock import DirectoryBusy, hold
from hydra_plugins.dlbook_launcher.slots import Slot, plan_slots
from hydra_plugins.dlbook_launcher.worker import PARENT_VARIABLE

log = logging.getLogger("dlbook")

OUTPUT_LOG = "output.log"
EXCHANGE_DIR = ".launcher"


class JobDied(RuntimeError):
    """A job's process ended without handing back a result (killed by a signal, out of memory, crashed)."""


class DlbookLauncher(Launcher):
    def __init__(
        self,
        gpus: Any = "auto",
        jobs_per_gpu: int = 1,
        gpus_per_job: int = 1,
        cpu_workers: int = 1,
        threads_per_job: Any = "auto",
        gpu_memory_fraction: Any = "auto",
        fail_fast: bool = False,
        progress: bool = True,
    ) -> None:
        self.settings = {
            "gpus": OmegaConf.to_container(gpus) if OmegaConf.is_config(gpus) else gpus,
            "jobs_per_gpu": jobs_per_gpu,
            "gpus_per_job": gpus_per_job,
            "cpu_workers": cpu_workers,
            "threads_per_job": threads_per_job,
            "gpu_memory_fraction": gpu_memory_fraction,
        }
        self.fail_fast = fail_fast
        self.progress = progress
        self._processes: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._terminated = False
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        slots = plan_slots(**self.settings)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:  # held until this process ends: a resume of this sweep meanwhile is refused
            resuming = OmegaConf.select(self.config, "resume", default=None) is not None
            hold(sweep_dir, "sweep", "resume" if resuming else "hydra.sweep.dir")
        except DirectoryBusy as error:
            _refuse(str(error), code=2)
        where = ", ".join(slot.label for slot in slots)
        log.info("Launching %d jobs, %d at a time (%s)", len(job_overrides), len(slots), where)
        free: queue.Queue[Slot] = queue.Queue()
        for slot in slots:
            free.put(slot)
        board = _Board(len(job_overrides), self.progress)
        stop = threading.Event()
        first_failure: list[tuple[int, DictConfig, JobReturn]] = []
        jobs = []
        for offset, overrides in enumerate(job_overrides):
            number = initial_job_idx + offset
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            jobs.append((number, list(overrides), self._job_config(number, overrides)))
        _refuse_earlier_runs(jobs)

        def run_one(number: int, overrides: list[str], config: DictConfig) -> JobReturn | None:
            slot = free.get()
            try:
                if stop.is_set():
                    board.skipped()
                    return None
                board.started()
                result = self._run_in_process(number, overrides, config, slot)
                board.finished(number, result, slot, _job_dir(config))
                if result.status is JobStatus.FAILED and self.fail_fast and not stop.is_set():
                    first_failure.append((number, config, result))
                    stop.set()
                return result
            finally:
                free.put(slot)

        exchange = sweep_dir / EXCHANGE_DIR  # job and result files pass between the processes here
        exchange.mkdir(exist_ok=True)
        try:
            with (
                _forward_sigterm(self, stop),
                ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="dlbook-job") as pool,
            ):
                futures = [pool.submit(run_one, *job) for job in jobs]
                results = [future.result() for future in futures]
        finally:
            board.close()
            shutil.rmtree(exchange, ignore_errors=True)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if self._terminated:
            _refuse(
                f"SIGTERM: the sweep was stopped; its running jobs were asked to stop and saved their last "
                f"completed epoch. Continue it with: dlbook train -m resume={sweep_dir}",
                code=128 + signal.SIGTERM,
            )
        if first_failure:
            number, config, result = first_failure[0]
            not_started = sum(result is None for result in results)
            _refuse(
                f"hydra.launcher.fail_fast=true: job {number} failed ({_error_text(result._return_value)}), so "
                f"{not_started} job(s) were not started. Its output: {_job_dir(config) / OUTPUT_LOG}.",
                code=1,
            )
        return results

    def _job_config(self, number: int, overrides: Sequence[str]) -> DictConfig:
        """The job's composed config, its folder resolved here (``${now:...}`` would differ in the job's process)."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with read_write(config), open_dict(config):
            config.hydra.job.id = str(number)
            config.hydra.job.num = number
            # Every job in the sweep's folder, also when the jobs are different experiments (its name
            # would otherwise put each experiment's jobs in a folder of its own).
            config.hydra.sweep.dir = str(self.config.hydra.sweep.dir)
            config.hydra.sweep.subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
        return config

    def _run_in_process(self, number: int, overrides: list[str], config: DictConfig, slot: Slot) -> JobReturn:
        job_dir = _job_dir(config)
        job_dir.mkdir(parents=True, exist_ok=True)
        exchange = Path(config.hydra.sweep.dir) / EXCHANGE_DIR
        job_file, result_file = exchange / f"job_{number}.pkl", exchange / f"job_{number}.result.pkl"
        # cloudpickle: Hydra's global state holds OmegaConf resolvers that are local functions.
        job_file.write_bytes(
            cloudpickle.dumps(
                {
                    "config": config,
                    "hydra_context": self.hydra_context,
                    "task_function": self.task_function,
                    "singletons": Singleton.get_state(),
                }
            )
        )
        result_file.unlink(missing_ok=True)
        environment = {
            **os.environ,
            **slot.env,
            "DLBOOK_LAUNCHER_SLOT": slot.label,
            PARENT_VARIABLE: str(os.getpid()),  # the job stops when this process dies (worker.stop_with_parent)
        }
        command = [sys.executable, "-m", "hydra_plugins.dlbook_launcher.worker", str(job_file), str(result_file)]
        with open(job_dir / OUTPUT_LOG, "ab") as output:
            process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
            with self._lock:
                self._processes.add(process)
            try:
                process.wait()
            finally:
                with self._lock:
                    self._processes.discard(process)
        try:
            if result_file.exists():
                try:
                    return pickle.loads(result_file.read_bytes())
                except Exception as error:  # noqa: BLE001 - one unreadable result must not end the sweep
                    return self._failed(
                        number, overrides, config, JobDied(f"job {number}'s result is unreadable: {error}")
                    )
            return self._died(number, overrides, config, job_dir, process.returncode)
        finally:
            job_file.unlink(missing_ok=True)
            result_file.unlink(missing_ok=True)

    def _died(self, number: int, overrides: list[str], config: DictConfig, job_dir: Path, code: int) -> JobReturn:
        """The JobReturn of a job whose process gave no result; its status.json says failed, not running."""

        if code < 0:
            cause = f"its process was killed by {signal.Signals(-code).name}"
        else:
            cause = f"its process exited with code {code} before finishing"
        error = JobDied(f"job {number} gave no result: {cause}; see {job_dir / OUTPUT_LOG}")
        from dlbook.run.directory import mark_died

        mark_died(job_dir, cause)
        return self._failed(number, overrides, config, error)

    def _failed(self, number: int, overrides: list[str], config: DictConfig, error: BaseException) -> JobReturn:
        """A failed JobReturn made here, for a job whose process could not hand back its own."""
        job_dir = _job_dir(config)
        result = JobReturn(
            overrides=overrides,
            cfg=config,
            hydra_cfg=config,
            working_dir=str(job_dir),
            task_name=config.hydra.job.name,
            status=JobStatus.FAILED,
        )
        result._return_value = error
        return result


@contextmanager
def _forward_sigterm(launcher: DlbookLauncher, stop: threading.Event):
    """While jobs run, SIGTERM to the sweep stops starting jobs and passes the signal on to the running ones."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signal_number, frame):
        launcher._terminated = True
        stop.set()
        with launcher._lock:
            for process in launcher._processes:
                process.send_signal(signal_number)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _refuse_earlier_runs(jobs: list[tuple[int, list[str], DictConfig]]) -> None:
    """Stop before starting anything if a job's folder holds a run already, unless the sweep is resuming."""
    taken = [
        _job_dir(config)
        for _, _, config in jobs
        if run_status(_job_dir(config)) is not None and OmegaConf.select(config, "resume", default=None) is None
    ]
    if taken:
        _refuse(
            f"hydra.sweep.dir={taken[0].parent} is not valid for a new sweep: job folder(s) "
            f"{', '.join(path.name for path in taken)} already hold runs, and dlbook never overwrites a run. "
            f"Leave hydra.sweep.dir out (a new folder is named by the time), or continue that sweep with "
            f"`dlbook train -m resume={taken[0].parent}`.",
            code=2,
        )


def _refuse(message: str, code: int) -> None:
    """End the sweep with ``message`` as one paragraph and exit status ``code`` (no traceback: it is no bug)."""
    print(f"dlbook: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _job_dir(config: DictConfig) -> Path:
    return Path(config.hydra.sweep.dir) / str(config.hydra.sweep.subdir)


def _error_text(error: Any) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)


class _Board:
    """The sweep's progress bar (jobs done / running / failed) and one line per finished job."""

    def __init__(self, total: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.lock = threading.Lock()
        self.running = self.failed = self.not_started = 0
        # disable=None: no bar when stderr is not a terminal (a log file, CI); the per-job lines go to the log.
        self.bar = tqdm(total=total, desc="sweep", unit="job", file=sys.stderr, disable=None if show else True)
        self.show = not self.bar.disable
        self._refresh()

    def _refresh(self) -> None:
        self.bar.set_postfix(running=self.running, failed=self.failed, refresh=True)

    def started(self) -> None:
        with self.lock:
            self.running += 1
            self._refresh()

    def skipped(self) -> None:
        with self.lock:
            self.not_started += 1
            self.bar.update(1)

    def finished(self, number: int, result: JobReturn, slot: Slot, job_dir: Path) -> None:
        with self.lock:
            self.running -= 1
            where = display_path(job_dir)
            if result.status is JobStatus.FAILED and type(result._return_value).__name__ == "TrialPruned":
                line = f"job {number} pruned on {slot.label} (the Optuna sweeper stopped an unpromising trial): {where}"
            elif result.status is JobStatus.FAILED:
                self.failed += 1
                line = f"job {number} failed on {slot.label} ({_error_text(result._return_value)}): {where}"
            else:
                value = result._return_value
                shown = f"objective {value:.4g}" if isinstance(value, (int, float)) else "completed"
                line = f"job {number} done on {slot.label}, {shown}: {where}"
            self.bar.update(1)
            self._refresh()
            if self.show:
                self.bar.write(line, file=sys.stderr)
            else:
                log.info(line)

    def close(self) -> None:
        self.bar.close()
