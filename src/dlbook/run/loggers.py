"""Where a run's metrics go besides its run directory: the ``logger`` config group.

``logger=tensorboard`` (the default): per-epoch scalars (the ``tensorboard`` callback) and an HParams
session per run. ``logger=mlflow``: one MLflow run per run (dlbook.run.mlflow_tracking); TensorBoard's
per-epoch scalars and HParams are then left out. ``logger=[tensorboard,mlflow]``: both.

commands/train.py calls ``check_loggers`` with the other config checks, ``start_loggers`` once the run is set up,
``finish_loggers`` when it has completed and ``end_loggers`` when it stops otherwise. Callbacks that an
experiment adds for TensorBoard images or the embedding projector are its own and stay.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

LOGGERS = ("tensorboard", "mlflow")
# The per-epoch TensorBoard callback of conf/callbacks/tensorboard.yaml, switched off without the logger.
TENSORBOARD_TARGETS = ("dlbook.run.tensorboard_scalars.tensorboard_callback", "keras.callbacks.TensorBoard")

# The MLflow run of the current training run (one per process at a time), or None.
_active = None


def chosen_loggers(cfg: DictConfig) -> list[str]:
    """The loggers the run's ``logger`` group selected (keys of ``cfg.logger``)."""
    settings = OmegaConf.select(cfg, "logger", default=None)
    if settings is None:
        return []
    return [str(name) for name in settings] if isinstance(settings, DictConfig) else []


def check_loggers(cfg: DictConfig) -> None:
    """ConfigError when ``logger`` is not a selection of the group, or MLflow is chosen but not installed."""
    settings = OmegaConf.select(cfg, "logger", default=None)
    if settings is not None and not isinstance(settings, DictConfig):
        raise ConfigError(
            f"logger={settings!r} is not valid: choose the config group's options, logger=tensorboard (the "
            "default), logger=mlflow or both with logger=[tensorboard,mlflow]."
        )
    if "mlflow" in chosen_loggers(cfg):
        from dlbook.run.mlflow_tracking import INSTALL_HINT, mlflow_installed

        if not mlflow_installed():
            raise ConfigError(INSTALL_HINT)


def start_loggers(cfg: DictConfig, run_dir: str | Path, backend: dict[str, Any] | None) -> None:
    """Before the first fit: the TensorBoard callback off when not chosen, the MLflow run started when chosen."""
    global _active
    _active = None
    loggers = chosen_loggers(cfg)
    callbacks = OmegaConf.select(cfg, "callbacks", default=None)
    if "tensorboard" not in loggers and isinstance(callbacks, DictConfig):
        for name, entry in callbacks.items():
            if isinstance(entry, DictConfig) and entry.get("_target_") in TENSORBOARD_TARGETS:
                callbacks[name] = None  # build_callbacks skips a callback set to null
    if "mlflow" not in loggers:
        return
    from dlbook.run.mlflow_tracking import MlflowRun, run_params, run_tags
    from dlbook.run.run_record import run_tags as user_tags

    run_dir = Path(run_dir)
    tracker = MlflowRun(cfg.logger.mlflow, str(cfg.paths.output_dir))
    experiment = str(cfg.logger.mlflow.get("experiment_name") or cfg.name)
    tags = tracker._guard("reading the run's tags", lambda: run_tags(cfg, run_dir, backend, user_tags(cfg))) or {}
    params = tracker._guard("reading the run's config", lambda: run_params(cfg, _job_overrides())) or {}
    tracker.start(experiment, _run_name(cfg, run_dir), tags, params)
    _active = tracker


def logger_callbacks(phase: str) -> list:
    """Keras callbacks of the chosen loggers for one fit (MLflow's per-epoch metrics)."""
    if _active is None or _active.broken:
        return []
    from dlbook.run.mlflow_tracking import epoch_callback

    return [epoch_callback(_active, phase)]


def finish_loggers(cfg: DictConfig, run_dir: str | Path, metrics: dict[str, Any]) -> None:
    """After the run completed: TensorBoard HParams, MLflow's final metrics and artifacts. Never raises."""
    global _active
    if "tensorboard" in chosen_loggers(cfg):
        from dlbook.results.hparams import write_run_hparams

        write_run_hparams(cfg, run_dir, metrics)  # a failure there only logs a warning
    tracker, _active = _active, None
    if tracker is None:
        return
    from dlbook.results.hparams import flat_metrics

    tracker.log_metrics(flat_metrics(metrics), step=0)
    tracker.log_artifacts(Path(run_dir))
    tracker.end("FINISHED")


def end_loggers(error: BaseException) -> None:
    """When the run stops without completing: its MLflow run ends FAILED, or KILLED (interrupted, pruned)."""
    global _active
    tracker, _active = _active, None
    if tracker is None:
        return
    from dlbook.run.faults import interrupt_signal
    from dlbook.run.pruning import find_pruned

    stopped = find_pruned(error) is not None or interrupt_signal(error) is not None
    tracker.end("KILLED" if stopped else "FAILED", {"dlbook.error": f"{type(error).__name__}: {error}"[:5000]})


def _job_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _run_name(cfg: DictConfig, run_dir: Path) -> str:
    """The run directory under the outputs folder (``imdb/<timestamp>``, ``multirun/imdb/<timestamp>/3``)."""
    try:
        return run_dir.resolve().relative_to(Path(str(cfg.paths.output_dir)).resolve()).as_posix()
    except ValueError:
        return run_dir.name
