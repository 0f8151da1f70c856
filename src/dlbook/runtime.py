"""TensorFlow set-up for a run: seeds and determinism. Imports TensorFlow (seconds)."""

from __future__ import annotations

import logging
import os


def prepare_tensorflow(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and Keras/TensorFlow; with ``deterministic`` also enable op determinism."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    # Every fold / retrain builds a fresh model, so TensorFlow's "retracing" warning is expected noise.
    tf.get_logger().setLevel(logging.ERROR)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
