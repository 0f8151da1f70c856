"""Pruning of Optuna trials from per-epoch values: the job side of dlbook's Optuna sweeper.

A job launched by the sweeper (``hparams_search=...``) gets ``trial=<number>``. Its Trainer then adds a
Keras callback that, after every epoch, reports ``logs[monitor]`` to that trial in the study's storage and
asks the study's pruner whether to go on. A trial worse than the median of the completed ones is stopped:
the fit ends, ``optuna.TrialPruned`` propagates out of the job (the run's status.json says "pruned"), and
the sweeper, which receives that exception from the launcher, records the trial as PRUNED.

Steps count epochs over all fits of a run (fold 2 of a K-fold run continues after fold 1's epochs), so
trials of one experiment are compared epoch for epoch. A fit without the monitored value (e.g. the final
retraining of a K-fold run, which has no validation data) reports nothing.

Nothing here imports Optuna or Keras unless a trial is running (commands/train.py imports this module at start-up).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from omegaconf import DictConfig

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

SWEEPER_TARGET = "hydra_plugins.dlbook_optuna.sweeper.DlbookOptunaSweeper"
PRUNERS = ("median", "none")
SQLITE_PREFIX = "sqlite:///"


def make_pruner(settings: Any):
    """The Optuna pruner of ``hydra.sweeper.pruner`` (name, n_startup_trials, n_warmup_steps)."""
    import optuna

    name = settings.get("name")
    if name == "none":
        return optuna.pruners.NopPruner()
    if name != "median":
        raise ConfigError(
            f"hydra.sweeper.pruner.name={name} is not valid: median (stop trials worse than the median of "
            "completed ones at the same epoch) or none."
        )
    for key in ("n_startup_trials", "n_warmup_steps"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"hydra.sweeper.pruner.{key}={value} is not valid: a whole number, 0 or more.")
    return optuna.pruners.MedianPruner(
        n_startup_trials=settings.n_startup_trials, n_warmup_steps=settings.n_warmup_steps
    )


def absolute_storage_url(url: str, base_dir: str) -> str:
    """``url`` with a relative SQLite path made absolute against ``base_dir`` (jobs may run elsewhere)."""
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if path and path != ":memory:" and not os.path.isabs(path):
            return SQLITE_PREFIX + os.path.join(os.path.abspath(base_dir), path)
    return url


def open_storage(url: str | None, base_dir: str):
    """The study storage at ``url`` (an SQLAlchemy URL), or None for an in-memory study (``url`` null)."""
    if not url:
        return None
    import optuna

    url = absolute_storage_url(str(url), base_dir)
    engine_kwargs = None
    if url.startswith(SQLITE_PREFIX):
        # Parallel jobs write to one SQLite file: wait for its lock instead of failing after 5 s.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def sweeper_settings() -> DictConfig | None:
    """The settings of dlbook's Optuna sweeper when it launched this job, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    # A single run composed with hparams_search=... (e.g. to repeat the best trial) names the sweeper too.
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    sweeper = HydraConfig.get().get("sweeper")
    if sweeper is None or sweeper.get("_target_") != SWEEPER_TARGET:
        return None
    return sweeper


def pruning_callbacks(cfg: DictConfig, epochs_done: int = 0) -> list:
    """The Keras callback that reports to this run's Optuna trial, or [] when the run is no trial.

    ``epochs_done``: epochs of the run's earlier fits, so that steps keep increasing over its fits.
    """
    if cfg.get("trial") is None:
        return []
    settings = sweeper_settings()
    if settings is None or not settings.get("monitor"):
        return []
    from hydra.core.hydra_config import HydraConfig

    storage = open_storage(settings.get("storage"), HydraConfig.get().runtime.cwd)
    if storage is None:
        log.info("trial %s: the study is in memory (hydra.sweeper.storage=null); no pruning", cfg.trial)
        return []
    import optuna

    try:
        study_id = storage.get_study_id_from_name(settings.study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(cfg.trial))
    except KeyError as error:
        raise ConfigError(
            f"trial={cfg.trial} is not valid: the study {settings.study_name!r} in {settings.storage} has no such "
            "trial. trial= is set by dlbook's Optuna sweeper (hparams_search=...); leave it null otherwise."
        ) from error
    study = optuna.load_study(study_name=settings.study_name, storage=storage, pruner=make_pruner(settings.pruner))
    return [pruning_callback(optuna.trial.Trial(study, trial_id), settings.monitor, epochs_done)]


def pruning_callback(trial, monitor: str, first_step: int = 0):
    """A Keras callback reporting ``logs[monitor]`` to Optuna ``trial`` at steps first_step, first_step+1, ..."""
    return _callback_class()(trial, monitor, first_step)


@functools.cache
def _callback_class():
    import keras
    import optuna

    class TrialPruning(keras.callbacks.Callback):
        """Reports each epoch's ``monitor`` value; stops the fit and raises TrialPruned when told to prune."""

        def __init__(self, trial, monitor: str, first_step: int) -> None:
            super().__init__()
            self.trial = trial
            self.monitor = monitor
            self.first_step = first_step
            self.pruned: optuna.TrialPruned | None = None
            self._reported = False

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(self.monitor)
            if value is None:
                return
            value = float(value)
            step = self.first_step + epoch
            self.trial.report(value, step)
            self._reported = True
            if self.trial.should_prune():
                self.pruned = optuna.TrialPruned(
                    f"trial {self.trial.number} pruned after epoch {step + 1} of the run: {self.monitor}="
                    f"{value:.4g} is worse than the median of the completed trials at that epoch"
                )
                self.pruned.epoch = step + 1  # survives pickling (the exception's __dict__)
                # Stop here and raise at the end of training, so the other callbacks close their files first.
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if not self._reported:
                log.info("trial %s: this fit logs no %s; nothing reported", self.trial.number, self.monitor)
            if self.pruned is not None:
                raise self.pruned

    return TrialPruning


def find_pruned(error: BaseException | None) -> BaseException | None:
    """The ``optuna.TrialPruned`` that is ``error`` or its cause, or None; never imports Optuna."""
    optuna = sys.modules.get("optuna")
    if optuna is None:
        return None  # no trial ran in this process, so nothing can have been pruned
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, optuna.TrialPruned):
            return error
        seen.add(id(error))
        error = error.__cause__
    return None
