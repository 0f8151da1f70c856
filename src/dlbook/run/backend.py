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


def tensorflow_available() -> bool:
    """True when TensorFlow can be imported in this environment (it also feeds tf.data on other backends)."""
    return importlib.util.find_spec("tensorflow") is not None


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
    """The backend Keras runs on in this process, its version and the devices it sees (imports Keras)."""
    import keras

    name = keras.backend.backend()
    distribution = BACKENDS.get(name, (name, name, ""))[1]
    try:
        backend_version = version(distribution)
    except PackageNotFoundError:
        backend_version = None
    return {"name": name, "version": backend_version, "devices": _devices(name)}


def _devices(name: str) -> list[str]:
    if name == "jax":
        import jax

        return [f"{device.platform}:{device.id}" for device in jax.devices()]
    if name == "torch":
        import torch

        cuda = [f"cuda:{index}" for index in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
        return cuda or ["cpu"]
    import tensorflow as tf

    return [device.name for device in tf.config.list_logical_devices()]


# Parts of the catalogue still written against TensorFlow directly (tf.GradientTape training steps and
# gradient ascent on the input, tf.distribute): config path -> (target prefix, why it needs TensorFlow).
TENSORFLOW_ONLY: tuple[tuple[str, str, str], ...] = (
    ("model", "dlbook.models.vae.", "the VAE's training step is written with tf.GradientTape"),
    ("model", "dlbook.models.dcgan.", "the GAN's training step is written with tf.GradientTape"),
    ("task", "dlbook.tasks.deep_dream.", "DeepDream's gradient ascent is written with tf.GradientTape"),
    ("task", "dlbook.tasks.style_transfer.", "style transfer's losses and L-BFGS step use TensorFlow directly"),
)


def tensorflow_only_reasons(cfg: Any) -> list[str]:
    """Why this run's config needs the TensorFlow backend (an empty list when it runs on any backend)."""
    reasons = []
    for key, prefix, reason in TENSORFLOW_ONLY:
        block = cfg.get(key) if hasattr(cfg, "get") else None
        target = block.get("_target_") if hasattr(block, "get") else None
        if isinstance(target, str) and target.startswith(prefix):
            reasons.append(reason)
    strategy = cfg.get("strategy") if hasattr(cfg, "get") else None
    if hasattr(strategy, "get") and strategy.get("_target_") == "dlbook.run.strategy.mirrored":
        reasons.append("strategy=mirrored is TensorFlow's tf.distribute.MirroredStrategy")
    return reasons


def check_backend_support(cfg: Any, name: str) -> None:
    """Refuse, in one paragraph, a run on ``name`` whose experiment needs TensorFlow."""
    if name == "tensorflow":
        return
    reasons = tensorflow_only_reasons(cfg)
    if reasons:
        raise ConfigError(
            f"backend={name} is not valid for {cfg.get('name')}: {'; '.join(reasons)}, so it runs on the "
            "TensorFlow backend only for now. Run it with backend=tensorflow (the default)."
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
