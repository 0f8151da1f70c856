"""TensorFlow set-up for a run: the GPU check, the job's share of its GPU, threads, seeds and determinism.

Everything here that configures devices runs before TensorFlow starts its runtime (the first operation):
TensorFlow fixes its devices and their memory then. Imports TensorFlow (seconds).
"""

from __future__ import annotations

import logging
import os

from dlbook.errors import DlbookError

log = logging.getLogger("dlbook")

# Set by dlbook's launcher for a job that shares its GPU (hydra.launcher.jobs_per_gpu > 1, or
# hydra.launcher.gpu_memory_fraction): the fraction of each GPU's memory the job may take, and the
# limit in MiB when the launcher could read the GPU's total memory (nvidia-smi).
MEMORY_FRACTION_VARIABLE = "DLBOOK_GPU_MEMORY_FRACTION"
MEMORY_LIMIT_VARIABLE = "DLBOOK_GPU_MEMORY_LIMIT_MB"
# XLA's flag for deterministic GPU kernels (XLA-compiled code does not follow TensorFlow's op determinism).
XLA_DETERMINISM_FLAG = "--xla_gpu_deterministic_ops=true"


class NoGpuVisible(DlbookError):
    """The job was given GPUs, but the framework sees none (no CUDA build, no driver)."""


def prepare_tensorflow(seed: int, deterministic: bool) -> None:
    """Set up TensorFlow for a run, in this order (all before its runtime starts):

    the GPU check (:func:`check_gpus_visible`), the job's share of its GPU's memory, the thread caps,
    the seeds of Python, NumPy and Keras/TensorFlow; with ``deterministic`` also op determinism, which
    covers cuDNN, and XLA's deterministic GPU kernels.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if deterministic:
        deterministic_environment(os.environ)  # read by XLA and cuDNN when they start: before TensorFlow does
    import keras
    import tensorflow as tf

    # Every fold / retrain builds a fresh model, so TensorFlow's "retracing" warning is expected noise.
    tf.get_logger().setLevel(logging.ERROR)
    check_gpus_visible()
    apply_gpu_memory_share()
    apply_thread_limits()
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def deterministic_environment(environment) -> None:
    """Environment settings that make GPU kernels deterministic where TensorFlow's op determinism does not reach.

    ``enable_op_determinism`` selects deterministic cuDNN and TensorFlow kernels, but code compiled by XLA
    (``trainer.jit_compile=true``; JAX) follows only XLA's own flag ``--xla_gpu_deterministic_ops`` and
    ``TF_CUDNN_DETERMINISTIC``. Both are read once, when XLA first compiles.
    """
    flags = environment.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        environment["XLA_FLAGS"] = f"{flags} {XLA_DETERMINISM_FLAG}".strip()
    environment["TF_CUDNN_DETERMINISTIC"] = "1"
    environment["TF_DETERMINISTIC_OPS"] = "1"


def given_gpus() -> list[str]:
    """The GPU ids this process was given: by dlbook's launcher or by ``CUDA_VISIBLE_DEVICES`` (none: [])."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return []
    return [device.strip() for device in visible.split(",") if device.strip() and device.strip() != "-1"]


def check_gpus_visible() -> None:
    """Stop (NoGpuVisible, exit 2) when this job was given GPUs but TensorFlow sees none.

    Plain ``pip install tensorflow`` on a machine whose CUDA libraries TensorFlow cannot load (or a build
    without CUDA) trains silently on the CPU, tens of times slower; a sweep would look like it works.
    """
    import tensorflow as tf

    given = given_gpus()
    if not given or tf.config.list_physical_devices("GPU"):
        return
    cuda = tf.sysconfig.get_build_info().get("is_cuda_build", False)
    cause = (
        "this TensorFlow was built with CUDA but cannot load the CUDA libraries or the driver"
        if cuda
        else "this TensorFlow is a build without CUDA (pip's plain `tensorflow` on a machine without "
        "`tensorflow[and-cuda]`, or tensorflow-cpu)"
    )
    raise NoGpuVisible(
        f"This job was given GPU(s) {', '.join(given)} (CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}) "
        f"but TensorFlow {tf.__version__} sees no GPU: {cause}, so it would train on the CPU. Install the CUDA "
        "build with `pip install 'dlbook[gpu]'` (tensorflow[and-cuda]) and check that `nvidia-smi` lists the "
        "GPU; or, to train on the CPU on purpose, set CUDA_VISIBLE_DEVICES= (empty), or "
        "hydra.launcher.gpus=[] for a sweep."
    )


def gpu_memory_share() -> dict | None:
    """The share of its GPU's memory the launcher gave this job (fraction, limit in MiB, growth), or None."""
    fraction = os.environ.get(MEMORY_FRACTION_VARIABLE)
    if not fraction:
        return None
    limit = os.environ.get(MEMORY_LIMIT_VARIABLE, "")
    return {
        "fraction": float(fraction),
        "limit_mb": int(limit) if limit.isdigit() else None,
        "growth": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true",
    }


def apply_gpu_memory_share() -> None:
    """Hold this job to its share of each visible GPU's memory (a job packed with others on one GPU).

    TensorFlow reserves almost all of a GPU's memory when it starts, so a second job on the same GPU fails.
    The launcher sets ``TF_FORCE_GPU_ALLOW_GROWTH`` (the job takes memory as it needs it) and, when it knows
    the GPU's size, a limit in MiB, applied here as a logical device of that size on every visible GPU.
    """
    share = gpu_memory_share()
    if share is None or share["limit_mb"] is None:
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.set_logical_device_configuration(
            gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=share["limit_mb"])]
        )
    log.info("GPU memory: at most %d MiB per GPU (%.0f%% of it)", share["limit_mb"], 100 * share["fraction"])


def apply_thread_limits() -> None:
    """Cap TensorFlow's thread pools at what dlbook's launcher gave this job (TF_NUM_INTRAOP_THREADS ...).

    The launcher sets these variables for parallel jobs (on CPU workers, and on GPUs too: their input
    pipelines and host-side ops use the CPU) so that they share the cores instead of each starting one
    thread per core; they are applied here explicitly, before TensorFlow runs any op.
    """
    import tensorflow as tf

    for variable, setter in (
        ("TF_NUM_INTRAOP_THREADS", tf.config.threading.set_intra_op_parallelism_threads),
        ("TF_NUM_INTEROP_THREADS", tf.config.threading.set_inter_op_parallelism_threads),
    ):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            setter(int(value))


def devices_in_use() -> dict:
    """The devices TensorFlow actually uses in this process (logical devices: after memory limits and splits)."""
    import tensorflow as tf

    return {
        "gpus": [device.name for device in tf.config.list_logical_devices("GPU")],
        "cpus": [device.name for device in tf.config.list_logical_devices("CPU")],
    }


def launcher_placement() -> dict | None:
    """Where dlbook's launcher put this job (slot, visible GPUs, memory share, thread cap); None outside a sweep."""
    slot = os.environ.get("DLBOOK_LAUNCHER_SLOT")
    if slot is None:
        return None
    import tensorflow as tf

    return {
        "slot": slot,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_memory": gpu_memory_share(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
