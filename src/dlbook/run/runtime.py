"""The backend's set-up for a run: the GPU check, the job's share of its GPU, threads, seeds and determinism.

Everything here that configures devices runs before the framework starts its runtime (the first
operation): TensorFlow and JAX fix their devices and their memory then. Imports Keras (seconds). Works
with the TensorFlow, JAX and PyTorch backends, and without TensorFlow installed (only the TensorFlow
parts are skipped then); with another backend, TensorFlow, where present, only feeds ``tf.data``.
"""

from __future__ import annotations

import logging
import os

from dlbook.errors import DlbookError
from dlbook.frameworks import tensorflow_available

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


def prepare_backend(seed: int, deterministic: bool) -> None:
    """Set up the run's Keras backend, in this order (all before its runtime starts):

    the GPU check (:func:`check_gpus_visible`), the job's share of its GPU's memory, the thread caps,
    the seeds of Python, NumPy and the backend; with ``deterministic`` also deterministic kernels
    (TensorFlow's op determinism, which covers cuDNN; XLA's deterministic GPU kernels; PyTorch's
    deterministic algorithms).
    """
    from dlbook.run.quiet import quiet_environment, start_framework

    quiet_environment()
    if deterministic:
        deterministic_environment(os.environ)  # read by XLA and cuDNN when they start: before the backend does
    start_framework()  # imports Keras and TensorFlow with their start-up notices filtered (dlbook.run.quiet)
    import keras

    backend = keras.backend.backend()
    tf = _tensorflow()
    if tf is not None:
        # Every fold / retrain builds a fresh model, so TensorFlow's "retracing" warning is expected noise.
        tf.get_logger().setLevel(logging.ERROR)
        if backend != "tensorflow":
            # TensorFlow only feeds tf.data here: keep it off the GPUs, whose memory belongs to the backend.
            tf.config.set_visible_devices([], "GPU")
    check_gpus_visible(backend)
    if backend == "tensorflow":
        apply_gpu_memory_share()  # JAX gets its share from XLA_PYTHON_CLIENT_MEM_FRACTION (the launcher's)
    apply_thread_limits()
    keras.utils.set_random_seed(seed)
    if deterministic:
        if tf is not None:
            tf.config.experimental.enable_op_determinism()
        if backend == "torch":
            import torch

            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)


def _tensorflow():
    """The tensorflow module, or None where it is not installed (a JAX or PyTorch install)."""
    if not tensorflow_available():
        return None
    import tensorflow as tf

    return tf


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


def visible_gpus(backend: str) -> list[str]:
    """The GPUs the backend itself can use in this process (its own device list, not nvidia-smi)."""
    if backend == "jax":
        import jax

        try:
            return [_jax_name(device) for device in jax.devices("gpu")]
        except RuntimeError:  # no GPU platform in this jaxlib
            return []
    if backend == "torch":
        import torch

        return [f"cuda:{index}" for index in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


# backend -> (what its CPU-only install is, how to install its CUDA build)
GPU_INSTALLS = {
    "tensorflow": (
        "a TensorFlow without usable CUDA (pip's plain `tensorflow` without `tensorflow[and-cuda]`, "
        "tensorflow-cpu, or CUDA libraries or a driver it cannot load)",
        "`pip install 'dlbook[gpu]'` (tensorflow[and-cuda])",
    ),
    "jax": (
        "a CPU-only jaxlib, or a CUDA build that cannot load the driver",
        "JAX's CUDA build (`pip install -U 'jax[cuda12]'`)",
    ),
    "torch": ("a CPU-only PyTorch, or a CUDA build that cannot load the driver", "PyTorch's CUDA build"),
}


def check_gpus_visible(backend: str = "tensorflow") -> None:
    """Stop (NoGpuVisible, exit 2) when this job was given GPUs but its backend sees none.

    Plain ``pip install tensorflow`` (or a CPU jaxlib) on a machine whose CUDA libraries the framework
    cannot load trains silently on the CPU, tens of times slower; a sweep would look like it works.
    """
    given = given_gpus()
    if not given or visible_gpus(backend):
        return
    cause, fix = GPU_INSTALLS.get(backend, GPU_INSTALLS["tensorflow"])
    raise NoGpuVisible(
        f"This job was given GPU(s) {', '.join(given)} (CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}) "
        f"but the {backend} backend sees no GPU: this is {cause}, so it would train on the CPU. Install "
        f"{fix} and check that `nvidia-smi` lists the GPU; or, to train on the CPU on purpose, set "
        "CUDA_VISIBLE_DEVICES= (empty), or hydra.launcher.gpus=[] for a sweep."
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
    """Cap the backend's thread pools at what dlbook's launcher gave this job (TF_NUM_INTRAOP_THREADS ...).

    The launcher sets these variables for parallel jobs (on CPU workers, and on GPUs too: their input
    pipelines and host-side ops use the CPU) so that they share the cores instead of each starting one
    thread per core; they are applied here explicitly, before the backend runs any op: TensorFlow's two
    pools (also tf.data's, under another backend), and PyTorch's intra-op pool. (XLA's CPU pool follows
    OMP_NUM_THREADS and the process's cores.)
    """
    threads = {}
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            threads[variable] = int(value)
    if not threads:
        return
    tf = _tensorflow()
    if tf is not None:
        for variable, setter in (
            ("TF_NUM_INTRAOP_THREADS", tf.config.threading.set_intra_op_parallelism_threads),
            ("TF_NUM_INTEROP_THREADS", tf.config.threading.set_inter_op_parallelism_threads),
        ):
            if variable in threads:
                setter(threads[variable])
    import keras

    if keras.backend.backend() == "torch" and "TF_NUM_INTRAOP_THREADS" in threads:
        import torch

        torch.set_num_threads(threads["TF_NUM_INTRAOP_THREADS"])


def devices_in_use() -> dict:
    """The devices the backend actually uses in this process (TensorFlow: logical devices, after memory
    limits and splits)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return {
            "gpus": [device.name for device in tf.config.list_logical_devices("GPU")],
            "cpus": [device.name for device in tf.config.list_logical_devices("CPU")],
        }
    gpus = visible_gpus(backend)
    if backend == "jax":
        import jax

        return {"gpus": gpus, "cpus": [_jax_name(device) for device in jax.devices("cpu")]}
    return {"gpus": gpus, "cpus": ["cpu"]}


def launcher_placement() -> dict | None:
    """Where dlbook's launcher put this job (slot, visible GPUs, memory share, thread cap); None outside a sweep."""
    slot = os.environ.get("DLBOOK_LAUNCHER_SLOT")
    if slot is None:
        return None
    tf = _tensorflow()
    return {
        "slot": slot,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_memory": gpu_memory_share(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() if tf is not None else None,
    }


def physical_devices() -> list[str]:
    """Every device the backend finds on this machine (TensorFlow's physical device names on TensorFlow)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices()]
    if backend == "jax":
        import jax

        return [_jax_name(device) for device in jax.devices()]
    return ["cpu", *visible_gpus(backend)]


def _jax_name(device) -> str:
    """A JAX device as ``platform:id`` (cpu:0, gpu:0), one spelling for every device list dlbook records."""
    return f"{device.platform}:{device.id}"
