"""dlbook's Hydra sweeper: a hyperparameter search with Optuna, one Hydra job per trial, with pruning.

Why dlbook has its own sweeper instead of hydra-optuna-sweeper 1.3.0 (the plugin Hydra ships):
it pins optuna<3, so it installs Optuna 2.10, beside dlbook's Optuna 4-5; its SQLite storage breaks
with SQLAlchemy 2 (an AssertionError) unless sqlalchemy<2 and alembic<1.14 are pinned too; one failed
trial ends the whole search; and it has no way to prune a trial from its per-epoch metrics. This one is
small, runs on current Optuna, records a failed trial as FAIL and goes on, and lets each job report
per-epoch values to its trial (``dlbook.run.pruning``) so that bad trials stop early.

How a search runs: the study is created, or loaded when it exists, in ``storage`` (an SQLite file in the
sweep directory by default). Trials are asked ``n_jobs`` at a time; each becomes a Hydra job whose
overrides are its sampled parameters, the command line's other overrides and ``trial=<number>``; the
launcher runs the batch, with job folder = trial number (a continued study never reuses a folder). Each
job's return value (dlbook.commands.train.train's objective) is told to the study; a job that failed or returned
no number is FAIL, one that raised optuna.TrialPruned is PRUNED. At the end the best trial is logged and
written to ``<sweep dir>/optimization_results.yaml``, with its test score (``best_test``), read once, after
the selection. A search whose objective or pruning monitor is computed on the test set is refused before
its first trial (dlbook.config.selection), unless ``allow_test_selection`` is set.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dlbook.config.selection import selection_on_test
from dlbook.errors import ConfigError
from dlbook.run.pruning import absolute_storage_url, find_pruned, make_pruner, open_storage
from hydra_plugins.dlbook_launcher.sweeper import consecutive_runs
from hydra_plugins.dlbook_optuna.search_space import SearchSpace, parse_search_space

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")
SAMPLERS = ("tpe", "random")
RESULTS_FILE = "optimization_results.yaml"


class DlbookOptunaSweeper(Sweeper):
    """Hydra sweeper (``hydra/sweeper=dlbook_optuna``); settings in config.py's DlbookOptunaSweeperConf."""

    def __init__(
        self,
        direction: str,
        n_trials: int,
        n_jobs: int,
        sampler: DictConfig,
        pruner: DictConfig,
        monitor: str | None,
        storage: str | None,
        study_name: str,
        params: DictConfig | None,
        allow_test_selection: bool = False,
    ) -> None:
        super().__init__()
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.sampler_settings = sampler
        self.pruner_settings = pruner
        self.monitor = monitor
        self.storage = storage
        self.study_name = study_name
        self.params = OmegaConf.to_container(params) if OmegaConf.is_config(params) else dict(params or {})
        self.allow_test_selection = allow_test_selection
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep Hydra's context and make the configured launcher (as Hydra's basic sweeper does)."""
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        """Run ``n_trials`` trials of the study in batches of ``n_jobs``; returns the launcher's results."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        self._check_settings()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        if not space.distributions:
            raise ConfigError(
                "hydra.sweeper.params has nothing to search: give at least one parameter as choice(...), "
                "range(...) or interval(...), e.g. model.units: choice(16,32,64)."
            )
        self._refuse_selection_on_test(space)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        study = self._open_study()
        log.info(
            "Optuna study %r in %s (%s, %d trials so far): %d more trials, %d at a time; searching %s. "
            "To continue it later, run the same command with hydra.sweep.dir=%s",
            study.study_name,
            sweep_dir,
            self.direction,
            len(study.trials),
            self.n_trials,
            self.n_jobs,
            ", ".join(f"{name}: {distribution}" for name, distribution in space.distributions.items()),
            sweep_dir,
        )
        returns: list[Sequence[JobReturn]] = []
        asked = 0
        while asked < self.n_trials:
            size = min(self.n_jobs, self.n_trials - asked)
            returns.extend(self._run_batch(study, space, size))
            asked += size
        self._report(study, sweep_dir)
        return returns

    def _check_settings(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                f"hydra.sweeper.direction={self.direction} is not valid: minimize (losses, errors) or maximize "
                "(accuracy)."
            )
        for key in ("n_trials", "n_jobs"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"hydra.sweeper.{key}={value} is not valid: a positive whole number.")
        if self.sampler_settings.name not in SAMPLERS:
            raise ConfigError(
                f"hydra.sweeper.sampler.name={self.sampler_settings.name} is not valid: tpe (Bayesian) or random."
            )
        make_pruner(self.pruner_settings)  # the jobs build it; a mistake should stop the search before any trial

    def _refuse_selection_on_test(self, space: SearchSpace) -> None:
        """End the search before any trial (one paragraph, exit status 2) if it would select on the test set."""
        if self.allow_test_selection is True:
            return
        key = "task.validation.source"
        searched = [line.split("=", 1)[1] for line in space.fixed if line.startswith(f"{key}=")]
        if key in space.distributions:
            searched += [str(choice) for choice in space.distributions[key].choices]
        problem = selection_on_test(self.config, self.monitor, searched)
        if problem:
            print(f"dlbook: error: {problem}", file=sys.stderr, flush=True)
            raise SystemExit(2)

    def _open_study(self):
        """The study in ``storage``: created, or loaded to continue it (then ``n_trials`` more trials)."""
        import optuna

        storage = open_storage(self.storage, os.getcwd())
        if storage is None:
            log.warning("hydra.sweeper.storage=null: the study is in memory; jobs cannot report, so no pruning")
        study = optuna.create_study(
            storage=storage,
            study_name=self.study_name,
            direction=self.direction,
            pruner=make_pruner(self.pruner_settings),
            load_if_exists=True,
        )
        if study.direction.name.lower() != self.direction:
            raise ConfigError(
                f"hydra.sweeper.direction={self.direction} is not valid for the existing study {self.study_name!r}, "
                f"which is {study.direction.name.lower()}d; keep its direction or start a new sweep directory."
            )
        seed = self.sampler_settings.seed
        if seed is not None:
            seed += len(study.trials)  # a continued study must not draw its first trials' parameters again
        if self.sampler_settings.name == "random":
            study.sampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            study.sampler = optuna.samplers.TPESampler(seed=seed)
        return study

    def _run_batch(self, study, space: SearchSpace, size: int) -> list[Sequence[JobReturn]]:
        """Ask ``size`` trials, launch them as one batch, tell the study each job's outcome."""
        trials = [study.ask(space.distributions) for _ in range(size)]
        overrides = []
        for trial in trials:
            # Without trial=: `dlbook train <these overrides>` repeats the trial as a single run.
            trial.set_user_attr("overrides", space.overrides(trial.params))
            overrides.append([*space.overrides(trial.params), f"trial={trial.number}"])
        returns = []
        try:
            self.validate_batch_is_legal(overrides)
            # Job folder = trial number; numbers are consecutive unless another process shares the study.
            numbers = [trial.number for trial in trials]
            for first, last in consecutive_runs(numbers):
                start, stop = numbers.index(first), numbers.index(last) + 1
                results = self.launcher.launch(overrides[start:stop], initial_job_idx=trials[start].number)
                for trial, result in zip(trials[start:stop], results, strict=True):
                    self._tell(study, trial, result)
                returns.append(results)
        except BaseException:
            # A composition error or an interrupt: no trial of this batch may stay RUNNING in the study.
            import optuna

            for trial in trials:
                study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            raise
        return returns

    def _tell(self, study, trial, result: JobReturn) -> None:
        import optuna

        run_dir = OmegaConf.select(result.hydra_cfg, "hydra.runtime.output_dir") if result.hydra_cfg else None
        if run_dir:
            trial.set_user_attr("run_dir", str(run_dir))
        if result.status == JobStatus.COMPLETED:
            value = result.return_value
            if _is_objective(value):
                study.tell(trial, float(value))
                log.info("trial %d: objective %.6g", trial.number, float(value))
                return
            reason = (
                f"the job returned {value!r}, not a number: set objective= to a metric of the run's metrics.json "
                "(e.g. objective=val.loss)"
            )
        else:
            # Read the job's exception without JobReturn.return_value, which re-raises it (and would end the search).
            error = result._return_value
            pruned = find_pruned(error)
            if pruned is not None:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                log.info("trial %d: pruned (%s)", trial.number, pruned)
                return
            reason = f"{type(error).__name__}: {error}"
        trial.set_user_attr("error", reason)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        log.warning("trial %d failed (the search goes on): %s", trial.number, reason)

    def _report(self, study, sweep_dir: Path) -> None:
        """Log the best trial and write optimization_results.yaml in the sweep directory."""
        import optuna

        states = optuna.trial.TrialState
        trials = study.get_trials(deepcopy=False)
        counts = {
            "complete": sum(trial.state == states.COMPLETE for trial in trials),
            "pruned": sum(trial.state == states.PRUNED for trial in trials),
            "failed": sum(trial.state == states.FAIL for trial in trials),
            "total": len(trials),
        }
        results: dict[str, Any] = {
            "study_name": study.study_name,
            "storage": absolute_storage_url(self.storage, os.getcwd()) if self.storage else None,
            "direction": self.direction,
            # null in the config means the experiment's reference metric (what dlbook.commands.train returns)
            "objective": OmegaConf.select(self.config, "objective", default=None)
            or OmegaConf.select(self.config, "reference.metric", default=None),
        }
        if counts["complete"]:
            best = study.best_trial
            results.update(
                best_trial=best.number,
                best_value=best.value,
                best_params=dict(best.params),
                best_overrides=best.user_attrs.get("overrides"),
                best_run_dir=best.user_attrs.get("run_dir"),
                best_test=_test_metrics(best.user_attrs.get("run_dir")),
            )
            log.info(
                "Best trial %d: %s with %s (%s)",
                best.number,
                f"{best.value:.6g}",
                " ".join(f"{name}={value}" for name, value in best.params.items()),
                best.user_attrs.get("run_dir", "run directory unknown"),
            )
            if results["best_test"]:
                # Read once, after the selection: no trial was chosen or pruned on these numbers.
                log.info(
                    "Best trial %d on the test set (reported once, after selection): %s",
                    best.number,
                    ", ".join(f"test.{name} {value:.6g}" for name, value in results["best_test"].items()),
                )
        else:
            results.update(best_trial=None, best_value=None, best_params=None)
            log.warning("No trial of study %r completed: no best parameters", study.study_name)
        results["trials"] = counts
        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS_FILE)
        log.info(
            "Study %r: %d complete, %d pruned, %d failed; results in %s",
            study.study_name,
            counts["complete"],
            counts["pruned"],
            counts["failed"],
            sweep_dir / RESULTS_FILE,
        )


def _test_metrics(run_dir: str | None) -> dict[str, float] | None:
    """The ``test`` block of a run's metrics.json (numbers only), or None when the run has none."""
    if not run_dir:
        return None
    from dlbook.run.directory import METRICS_FILE, read_json

    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return None
    test = read_json(path).get("test")
    if not isinstance(test, dict):
        return None
    numbers_only = {str(name): float(value) for name, value in test.items() if _is_objective(value)}
    return numbers_only or None


def _is_objective(value: Any) -> bool:
    """Whether a job's return value can be told to the study (a real number, not NaN)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
