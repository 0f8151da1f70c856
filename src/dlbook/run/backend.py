"""The Keras backend of a run (``backend=tensorflow|jax|torch``), chosen before Keras is first imported.

Keras 3 fixes its backend when ``keras`` is first imported, from ``KERAS_BACKEND``. A run sets that
variable from its config before anything imports Keras; each job of dlbook's launcher is a process of
its own, so a sweep may compare backends (``backend=tensorflow,jax``). Only the standard library is
imported here at module level.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from dlbook.errors import ConfigError

# Keras backend name -> (the Python package it needs, the distribution that carries its version, install hint)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "tensorflow": ("tensorflow", "tensorflow", "pip install tensorflow"),
    "jax": ("jax", "jax", "pip install 'dlbook[jax]'"),
    "torch": ("torch", "torch", "pip install torch"),
}


def select_backend(name: Any) -> str:
    """Make ``name`` the Keras backend of this process; a one-paragraph ConfigError when it cannot be.

    Sets ``KERAS_BACKEND`` when Keras is not imported yet. When it already is (Hydra's basic launcher
    runs every job of a sweep in one process), the backend it was imported with must be the one asked for.
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ConfigError(
            f"backend={name} is not valid: choose one of {', '.join(BACKENDS)} "
            "(the Keras backend that runs the model), e.g. backend=jax."
        )
    package, _, install = BACKENDS[name]
    if importlib.util.find_spec(package) is None:
        installed = [other for other, (module, _, _) in BACKENDS.items() if importlib.util.find_spec(module)]
        alternative = f"choose an installed one: {', '.join(f'backend={other}' for other in installed)}"
        raise ConfigError(
            f"backend={name} is not valid here: the {package} package is not installed. "
            f"Install it ({install}), or {alternative if installed else 'install another backend'}."
        )
    keras = sys.modules.get("keras")
    if keras is not None:
        current = keras.backend.backend()
        if current != name:
            raise ConfigError(
                f"backend={name} is not valid in this process: Keras was already imported here with the "
                f"{current} backend, and Keras fixes its backend at import. Hydra's basic launcher runs every "
                "job of a sweep in one process; sweep over backends with dlbook's own launcher (the default, "
                "one process per job), or run each backend as its own `dlbook train`."
            )
        return name
    os.environ["KERAS_BACKEND"] = name
    return name


def backend_description() -> dict[str, Any]:
    """The backend Keras runs on in this process, its version and the devices it computes on (imports Keras)."""
    import keras

    from dlbook.run.runtime import devices_in_use

    name = keras.backend.backend()
    distribution = BACKENDS.get(name, (name, name, ""))[1]
    try:
        backend_version = version(distribution)
    except PackageNotFoundError:
        backend_version = None
    in_use = devices_in_use()
    return {"name": name, "version": backend_version, "devices": in_use["gpus"] or in_use["cpus"]}


def check_backend_support(cfg: Any, name: str) -> None:
    """Refuse, in one paragraph, a run on ``name`` that asks for TensorFlow's MirroredStrategy.

    Every experiment of the catalogue runs on every backend; only ``strategy=mirrored`` is
    ``tf.distribute``'s, and JAX has its own data parallelism (``strategy=data_parallel``).
    """
    if name == "tensorflow":
        return
    strategy = cfg.get("strategy") if hasattr(cfg, "get") else None
    if hasattr(strategy, "get") and strategy.get("_target_") == "dlbook.run.strategy.mirrored":
        instead = (
            "use strategy=data_parallel (keras.distribution.DataParallel over the job's devices)"
            if name == "jax"
            else "use backend=tensorflow with it, or backend=jax with strategy=data_parallel"
        )
        raise ConfigError(
            f"strategy=mirrored is not valid with backend={name} (experiment {cfg.get('name')}): it is "
            f"TensorFlow's tf.distribute.MirroredStrategy, which only the TensorFlow backend runs; {instead}."
        )


def adapt_to_backend(cfg: Any, name: str) -> None:
    """Settings that a backend cannot honour but that do not change the result, set to what it runs.

    ``trainer.steps_per_execution`` only groups steps into one call (the updates are the same); Keras'
    PyTorch trainer runs one step per call, so it becomes 1 there, with a log line.
    """
    import logging

    from omegaconf import OmegaConf, open_dict

    steps = OmegaConf.select(cfg, "trainer.steps_per_execution", default=1)
    if name == "torch" and steps != 1:
        logging.getLogger("dlbook").info(
            "trainer.steps_per_execution=%s: the PyTorch backend runs one step per call, so 1 is used "
            "(the same updates)",
            steps,
        )
        with open_dict(cfg):
            cfg.trainer.steps_per_execution = 1
