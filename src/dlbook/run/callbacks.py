"""Keras callbacks from the ``callbacks`` config group, plus dlbook's tqdm progress bar.

Each entry of ``cfg.callbacks`` is a named ``_target_`` config (see conf/callbacks/). Callbacks
are built anew for every fit of a run; the text ``{phase}`` in their string arguments becomes
the fit's name (``fit``, ``fold_1`` ... ``fold_K``, ``retrain``) so that, say, the folds of a
k-fold run log to separate TensorBoard folders.
"""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

PROGRESS_MODES = ("none", "epochs", "batches")


def _with_phase(value: Any, phase: str) -> Any:
    if isinstance(value, str):
        return value.replace("{phase}", phase)
    if isinstance(value, dict):
        return {key: _with_phase(item, phase) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_phase(item, phase) for item in value]
    return value


def build_callbacks(callbacks_cfg: DictConfig | None, phase: str) -> list:
    """Instantiate every configured callback for the fit named ``phase``."""
    if not callbacks_cfg:
        return []
    built = []
    for name, entry in callbacks_cfg.items():
        if entry is None:  # `callbacks.tensorboard=null` switches one off
            continue
        resolved = OmegaConf.to_container(entry, resolve=True)
        if not isinstance(resolved, dict) or "_target_" not in resolved:
            from dlbook.errors import ConfigError

            raise ConfigError(
                f"callbacks.{name}={resolved!r} is not valid: each callback needs a `_target_` "
                "(e.g. keras.callbacks.EarlyStopping) and its arguments; see conf/callbacks/."
            )
        built.append(instantiate(_with_phase(resolved, phase)))
    return built


def progress_bar(mode: str, phase: str, epochs: int):
    """A tqdm bar over the epochs of one fit (``mode='batches'`` adds a bar over each epoch's batches)."""
    import keras
    from tqdm.auto import tqdm

    class TqdmProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_bar = None
            self.batch_bar = None

        def on_train_begin(self, logs=None):
            # disable=None: no bar when stderr is not a terminal (logs stay readable).
            self.epoch_bar = tqdm(total=epochs, desc=phase, unit="epoch", dynamic_ncols=True, disable=None)

        def on_epoch_begin(self, epoch, logs=None):
            if mode == "batches":
                self.batch_bar = tqdm(total=self.params.get("steps"), unit="batch", leave=False, disable=None)

        def on_train_batch_end(self, batch, logs=None):
            if self.batch_bar is not None:
                self.batch_bar.update(1)

        def on_epoch_end(self, epoch, logs=None):
            if self.batch_bar is not None:
                self.batch_bar.close()
                self.batch_bar = None
            self.epoch_bar.set_postfix({key: f"{value:.4g}" for key, value in (logs or {}).items()})
            self.epoch_bar.update(1)

        def on_train_end(self, logs=None):
            if self.epoch_bar is not None:
                self.epoch_bar.close()

    return TqdmProgress()


def epoch_timer():
    """A callback that records each epoch's wall time in seconds (``timer.seconds``), for history.csv."""
    import time

    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()
