"""Which numerical frameworks this environment has, asked without importing them (used at every layer)."""

from __future__ import annotations

import importlib.util


def tensorflow_available() -> bool:
    """True when TensorFlow can be imported here. Without it (a JAX or PyTorch install), data are fed as
    NumPy batches and TensorBoard files are written with the ``tensorboard`` package."""
    return importlib.util.find_spec("tensorflow") is not None
