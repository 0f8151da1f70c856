"""The distribution strategy of a run (the ``strategy`` config group): one device, or mirrored over several.

``strategy=default`` is TensorFlow's default strategy: everything runs on one device, as without any
strategy (on the other backends: no strategy at all). ``strategy=data_parallel`` is the JAX backend's
``keras.distribution.DataParallel``. ``strategy=mirrored`` is ``tf.distribute.MirroredStrategy``: one
replica of the model per device (every visible GPU by default), each fed its share of every batch;
the replicas' gradients are summed before each update (Keras scales each replica's loss by
1 / replicas, so the update is the one of the whole batch), and the weights stay identical
("mirrored") on all devices.

Keras 3 on TensorFlow distributes ``model.fit`` / ``evaluate`` / ``predict`` by itself when the model
*and* its optimizer were created inside ``strategy.scope()``: both record the current strategy when
they are constructed. The Trainer therefore builds, loads (``trainer.init_from``) and compiles every
model inside :func:`scope`. Keras splits each tf.data batch across the replicas, so
``trainer.batch_size`` is the global batch size.

The strategy is made once per run, before any TensorFlow operation runs, because TensorFlow fixes its
devices when its runtime starts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from hydra.utils import instantiate

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

# strategy.cross_device_ops: how the replicas' gradients are summed (null: TensorFlow's choice,
# NCCL between GPUs where it is available).
CROSS_DEVICE_OPS = ("nccl", "hierarchical_copy", "reduction_to_one_device")


def default():
    """One device, what a run without any strategy does: TensorFlow's default strategy, None on other backends."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.distribute.get_strategy()


def mirrored(devices: Sequence[str] | None = None, cross_device_ops: str | None = None):
    """``tf.distribute.MirroredStrategy`` over ``devices`` (None: every visible GPU, or the CPU when there is none)."""
    import tensorflow as tf

    if devices is not None:
        devices = _check_devices(devices)
    return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=_cross_device_ops(cross_device_ops))


def data_parallel(devices: Sequence[str] | None = None):
    """``keras.distribution.DataParallel`` over ``devices`` (None: every device JAX sees), made the global one.

    The JAX backend's data parallelism: the model's variables are replicated on every device and each
    batch is split across them; gradients are averaged by XLA's collectives. The launcher's
    ``CUDA_VISIBLE_DEVICES`` decides which GPUs a job sees, so by default a job uses the GPUs it was given.
    """
    import keras

    if keras.backend.backend() != "jax":
        raise ConfigError(
            f"strategy=data_parallel is not valid on backend={keras.backend.backend()}: it is Keras' JAX data "
            "parallelism (keras.distribution.DataParallel). Use backend=jax, or strategy=mirrored on TensorFlow."
        )
    available = keras.distribution.list_devices()
    if devices is None:
        devices = available
    elif isinstance(devices, str) or not len(devices) or any(device not in available for device in devices):
        raise ConfigError(
            f"strategy.devices={devices!r} is not valid: give null (every device JAX sees) or a non-empty list "
            f"of these devices: {available}."
        )
    distribution = keras.distribution.DataParallel(devices=list(devices))
    keras.distribution.set_distribution(distribution)  # fit, evaluate and predict all follow it
    return distribution


def make_strategy(cfg) -> Any:
    """The run's strategy from ``cfg.strategy`` (absent: the default strategy); logs its number of replicas.

    With several replicas it also checks the trainer settings that Keras cannot distribute (see
    :func:`check_replica_settings`), before any data is loaded.
    """
    strategy_cfg = cfg.get("strategy")
    strategy = default() if strategy_cfg is None else instantiate(strategy_cfg)
    description = describe_strategy(strategy)
    log.info(
        "strategy %s: %d replica(s) on %s",
        description["name"],
        description["replicas"],
        ", ".join(description["devices"]),
    )
    if description["replicas"] > 1:
        check_replica_settings(cfg, description["replicas"], description["name"])
    return strategy


def check_replica_settings(cfg, replicas: int, name: str = "mirrored") -> None:
    """ConfigError for settings that fail under several replicas (Keras 3.15 / TensorFlow 2.21, tested on CPU).

    - ``trainer.steps_per_execution`` > 1: Keras' multi-step loop does not run under MirroredStrategy.
    - a batch size smaller than the number of replicas: some replicas would get empty batches.
    """
    from omegaconf import OmegaConf

    steps = OmegaConf.select(cfg, "trainer.steps_per_execution", default=1)
    if steps != 1 and name == "mirrored":
        raise ConfigError(
            f"trainer.steps_per_execution={steps} is not valid with {replicas} replicas (strategy=mirrored): "
            "Keras cannot run several steps per execution under MirroredStrategy. Add "
            "trainer.steps_per_execution=1 (the same updates, a little more Python overhead per batch)."
        )
    for key in ("trainer.batch_size", "trainer.eval_batch_size", "task.retrain.batch_size"):
        batch_size = OmegaConf.select(cfg, key, default=None)
        if isinstance(batch_size, int) and batch_size < replicas:
            raise ConfigError(
                f"{key}={batch_size} is not valid with {replicas} replicas (strategy={name}): the batch is split "
                f"across the replicas, so it needs at least {replicas} examples. Use a batch size of at least "
                f"{replicas} (ideally a multiple of it), or fewer devices (strategy.devices=...)."
            )


def describe_strategy(strategy) -> dict[str, Any]:
    """Name, number of replicas and devices of ``strategy``, for provenance.json."""
    import keras

    if strategy is None:  # no strategy on a backend other than TensorFlow: its first device
        from dlbook.run.runtime import devices_in_use

        used = devices_in_use()
        return {"name": "default", "replicas": 1, "devices": (used["gpus"] or used["cpus"])[:1]}
    if keras.backend.backend() == "jax" and isinstance(strategy, keras.distribution.DataParallel):
        devices = [str(device) for device in strategy.device_mesh.devices.flatten()]
        return {"name": "data_parallel", "replicas": len(devices), "devices": devices}
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MirroredStrategy):
        name = "mirrored"
    elif strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        name = "default"
    else:
        name = type(strategy).__name__
    if name == "default":
        # It names no device: TensorFlow places operations on the first GPU if there is one, else the CPU.
        # (Physical devices: listing them does not start TensorFlow's runtime.)
        devices = ["/device:GPU:0" if tf.config.list_physical_devices("GPU") else "/device:CPU:0"]
    else:
        devices = list(strategy.extended.worker_devices)
    return {"name": name, "replicas": int(strategy.num_replicas_in_sync), "devices": devices}


def scope(strategy):
    """``strategy.scope()``, or a context that does nothing when there is no strategy (None)."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def _check_devices(devices) -> list[str]:
    """The devices as a list of strings, each one that TensorFlow can see; a ConfigError otherwise."""
    import tensorflow as tf

    if isinstance(devices, str) or not all(isinstance(device, str) for device in devices) or not len(devices):
        raise ConfigError(
            f"strategy.devices={devices!r} is not valid: give null (every visible GPU, or the CPU when there is "
            'none) or a non-empty list of device names, e.g. strategy.devices=["/gpu:0","/gpu:1"].'
        )
    visible = tf.config.list_logical_devices()
    known = {(device.device_type.upper(), _index(device.name)) for device in visible}
    for device in devices:
        try:
            spec = tf.DeviceSpec.from_string(device)
        except ValueError as error:
            raise ConfigError(f"strategy.devices: {device!r} is not a device name ({error}).") from error
        if (str(spec.device_type or "").upper(), spec.device_index or 0) not in known:
            raise ConfigError(
                f"strategy.devices: {device!r} is not a device of this machine. Visible devices: "
                f"{', '.join(item.name for item in visible)}. Use null for every visible GPU."
            )
    return list(devices)


def _index(device_name: str) -> int:
    import tensorflow as tf

    return tf.DeviceSpec.from_string(device_name).device_index or 0


def _cross_device_ops(name: str | None):
    import tensorflow as tf

    if name is None:
        return None
    choices = {
        "nccl": tf.distribute.NcclAllReduce,
        "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce,
        "reduction_to_one_device": tf.distribute.ReductionToOneDevice,
    }
    if name not in choices:
        raise ConfigError(
            f"strategy.cross_device_ops={name} is not valid: null (TensorFlow's choice), {', '.join(CROSS_DEVICE_OPS)}."
        )
    return choices[name]()
