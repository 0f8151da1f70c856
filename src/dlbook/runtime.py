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
    apply_thread_limits()
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def apply_thread_limits() -> None:
    """Cap TensorFlow's thread pools at what dlbook's launcher gave this job (TF_NUM_INTRAOP_THREADS ...).

    The launcher sets these variables for parallel CPU jobs so that they share the cores instead of each
    starting one thread per core; they are applied here explicitly, before TensorFlow runs any op.
    """
    import tensorflow as tf

    for variable, setter in (
        ("TF_NUM_INTRAOP_THREADS", tf.config.threading.set_intra_op_parallelism_threads),
        ("TF_NUM_INTEROP_THREADS", tf.config.threading.set_inter_op_parallelism_threads),
    ):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            setter(int(value))


def launcher_placement() -> dict | None:
    """Where dlbook's launcher put this job (its slot, visible GPUs, thread cap), or None outside a sweep."""
    slot = os.environ.get("DLBOOK_LAUNCHER_SLOT")
    if slot is None:
        return None
    import tensorflow as tf

    return {
        "slot": slot,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
