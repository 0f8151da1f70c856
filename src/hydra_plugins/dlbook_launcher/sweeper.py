"""dlbook's grid sweeper (``hydra/sweeper=dlbook``, the default of `dlbook train -m`).

Hydra's basic sweeper, with one difference: a failed job does not end the sweep with an error. Hydra's own
re-raises the first failure after its batch, which turns a long sweep with one bad job into an exit code 1
and skips the end-of-sweep callbacks (the summary). Here failures are counted and reported; every job's
status.json and the sweep summary say which failed and why. To stop at the first failure and exit non-zero,
set ``hydra.launcher.fail_fast=true``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from dlbook.run.directory import run_status

log = logging.getLogger("dlbook")


class DlbookSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        resuming = any(argument.startswith("resume=") for argument in arguments)
        returns: list[Sequence[JobReturn]] = []
        next_job = 0
        while not self.is_done():
            batch = self.get_job_batch()
            started = time.perf_counter()
            # Compose every job's config first: a typo in an override stops the sweep before any job runs.
            self.validate_batch_is_legal(batch)
            log.debug("validated %d job configs in %.2f s", len(batch), time.perf_counter() - started)
            numbers = list(range(next_job, next_job + len(batch)))
            if resuming:  # `-m resume=<sweep dir>`: the same jobs, in the same order; run those not completed
                done = [number for number in numbers if run_status(sweep_dir / str(number)) == "completed"]
                if done:
                    log.info("resume: jobs %s completed before; they are not run again", _ranges(done))
                numbers = [number for number in numbers if number not in done]
            for first, last in consecutive_runs(numbers):
                chunk = batch[first - next_job : last - next_job + 1]
                returns.append(self.launcher.launch(chunk, initial_job_idx=first))
            next_job += len(batch)
        results = [result for batch_results in returns for result in batch_results if result is not None]
        failed = sum(result.status is JobStatus.FAILED for result in results)
        if failed:
            log.warning("%d of %d jobs failed; see each job's status.json and the sweep summary", failed, len(results))
        return returns


def consecutive_runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive numbers, e.g. [0,1,2,5,6] -> [(0,2),(5,6)]."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _ranges(numbers: list[int]) -> str:
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in consecutive_runs(numbers))
