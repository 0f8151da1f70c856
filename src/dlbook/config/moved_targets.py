"""Module paths that moved when src/dlbook/ was regrouped, for configs saved before the move.

A run directory keeps the config it was composed with (``.hydra/config.yaml``); its ``_target_`` strings
name the modules of the release that trained it. `dlbook evaluate`, `generate`, `visualize`, `ensemble`
and ``resume=`` read such configs back: they pass them through :func:`update_targets` (or the overrides
through :func:`update_override`) so that a run saved before the regrouping still loads.
"""

from __future__ import annotations

import re
from typing import Any

# old module -> new module; a `_target_` under an old module is rewritten to the same name under the new one.
MOVED_MODULES = {
    "dlbook.adhoc": "dlbook.config.adhoc",
    "dlbook.backend": "dlbook.run.backend",
    "dlbook.backup": "dlbook.run.backup",
    "dlbook.callbacks": "dlbook.run.callbacks",
    "dlbook.catalog": "dlbook.config.catalog",
    "dlbook.catalog_table": "dlbook.results.catalog_table",
    "dlbook.composition_checks": "dlbook.config.composition",
    "dlbook.config_checks": "dlbook.config.checks",
    "dlbook.datasets.archives": "dlbook.datasets.io.archives",
    "dlbook.datasets.array_batches": "dlbook.datasets.io.array_batches",
    "dlbook.datasets.augmentation": "dlbook.datasets.io.augmentation",
    "dlbook.datasets.download": "dlbook.datasets.io.download",
    "dlbook.datasets.examples": "dlbook.datasets.io.examples",
    "dlbook.datasets.image_folder": "dlbook.datasets.io.image_folder",
    "dlbook.datasets.image_pipeline": "dlbook.datasets.io.image_pipeline",
    "dlbook.datasets.limits": "dlbook.datasets.io.limits",
    "dlbook.datasets.pipeline": "dlbook.datasets.io.pipeline",
    "dlbook.datasets.safe_npz": "dlbook.datasets.io.safe_npz",
    "dlbook.datasets.sequences": "dlbook.datasets.io.sequences",
    "dlbook.datasets.text_encoding": "dlbook.datasets.io.text_encoding",
    "dlbook.ensemble": "dlbook.results.ensemble",
    "dlbook.evaluate": "dlbook.commands.evaluate",
    "dlbook.faults": "dlbook.run.faults",
    "dlbook.generation": "dlbook.run.generation",
    "dlbook.hparams": "dlbook.results.hparams",
    "dlbook.kernels": "dlbook.run.kernels",
    "dlbook.loggers": "dlbook.run.loggers",
    "dlbook.mlflow_tracking": "dlbook.run.mlflow_tracking",
    "dlbook.model_plot": "dlbook.results.model_plot",
    "dlbook.monitoring": "dlbook.run.monitoring",
    "dlbook.override_checks": "dlbook.config.overrides",
    "dlbook.phases": "dlbook.run.phases",
    "dlbook.plots": "dlbook.results.plots",
    "dlbook.pruning": "dlbook.run.pruning",
    "dlbook.quiet": "dlbook.run.quiet",
    "dlbook.reference": "dlbook.config.reference",
    "dlbook.report": "dlbook.results.report",
    "dlbook.reproduce": "dlbook.results.reproduction",
    "dlbook.resources": "dlbook.config.resources",
    "dlbook.resume": "dlbook.run.resume",
    "dlbook.run_lock": "dlbook.run.run_lock",
    "dlbook.run_record": "dlbook.run.run_record",
    "dlbook.runs": "dlbook.run.directory",
    "dlbook.runs_table": "dlbook.results.runs_table",
    "dlbook.runtime": "dlbook.run.runtime",
    "dlbook.selection": "dlbook.config.selection",
    "dlbook.strategy": "dlbook.run.strategy",
    "dlbook.sweep_summary": "dlbook.results.sweep_summary",
    "dlbook.tensorboard_scalars": "dlbook.run.tensorboard_scalars",
    "dlbook.train": "dlbook.commands.train",
    "dlbook.trainer": "dlbook.run.trainer",
    "dlbook.training_stream": "dlbook.run.training_stream",
    "dlbook.visualization.command": "dlbook.commands.visualize",
}

# The longest old module first, so that `dlbook.runs_table.x` is not read as `dlbook.runs` + `_table.x`.
_OLD = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(old) for old in sorted(MOVED_MODULES, key=len, reverse=True)) + r")(?=\.\w)"
)


def updated_target(target: str) -> str:
    """``target`` (a dotted name such as ``dlbook.strategy.default``) under the module it lives in now."""
    return (
        _OLD.sub(lambda match: MOVED_MODULES[match.group(1)], target, count=1)
        if target.startswith("dlbook.")
        else target
    )


def update_override(override: str) -> str:
    """A saved ``key=value`` override with any old ``dlbook.*`` name in its value rewritten."""
    key, separator, value = override.partition("=")
    if not separator:
        return override
    return key + separator + _OLD.sub(lambda match: MOVED_MODULES[match.group(1)], value)


def update_targets(config: Any) -> Any:
    """Rewrite, in place, every ``_target_`` of a saved config (a DictConfig, or plain dicts and lists)."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(config, DictConfig):
        for key in list(config.keys()):
            if OmegaConf.is_missing(config, key) or OmegaConf.is_interpolation(config, key):
                continue
            value = config[key]
            if key == "_target_" and isinstance(value, str):
                config[key] = updated_target(value)
            else:
                update_targets(value)
    elif isinstance(config, ListConfig):
        for index in range(len(config)):
            if not OmegaConf.is_missing(config, index) and not OmegaConf.is_interpolation(config, index):
                update_targets(config[index])
    elif isinstance(config, dict):
        for key, value in config.items():
            if key == "_target_" and isinstance(value, str):
                config[key] = updated_target(value)
            else:
                update_targets(value)
    elif isinstance(config, list):
        for value in config:
            update_targets(value)
    return config
