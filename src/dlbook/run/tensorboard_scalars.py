"""The per-epoch TensorBoard callback on every backend, with or without TensorFlow installed.

``keras.callbacks.TensorBoard`` writes through ``tensorflow.summary``: TensorFlow is needed on every
Keras backend. Where TensorFlow is present dlbook uses it as it is (scalars, and histograms or the
graph when asked). Where it is not (a JAX or PyTorch install without TensorFlow), the per-epoch scalars
are written with the ``tensorboard`` package's own event writer, in the same layout Keras uses
(``<log_dir>/train`` and ``<log_dir>/validation``, tags ``epoch_<metric>``), so TensorBoard shows the
same curves either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlbook.errors import ConfigError
from dlbook.frameworks import tensorflow_available


def tensorboard_callback(log_dir: str, histogram_freq: int = 0, write_graph: bool = False, **options: Any):
    """Keras' TensorBoard callback where TensorFlow is installed, else dlbook's scalar writer."""
    if tensorflow_available():
        import keras

        return keras.callbacks.TensorBoard(
            log_dir=log_dir, histogram_freq=histogram_freq, write_graph=write_graph, **options
        )
    if histogram_freq or write_graph:
        raise ConfigError(
            f"callbacks.tensorboard.histogram_freq={histogram_freq} / write_graph={write_graph} is not valid "
            "without TensorFlow: weight histograms and the model graph are written by TensorFlow's summary "
            "API. Install TensorFlow (pip install tensorflow), or keep the scalars only (histogram_freq=0, "
            "write_graph=false, as callbacks=default does)."
        )
    unsupported = {key: value for key, value in options.items() if (key, value) != ("update_freq", "epoch")}
    if unsupported:
        key, value = next(iter(unsupported.items()))
        raise ConfigError(
            f"callbacks.tensorboard.{key}={value} is not valid without TensorFlow: dlbook's own writer logs "
            "per-epoch scalars only (update_freq=epoch). Install TensorFlow for Keras' full TensorBoard callback."
        )
    return epoch_scalars(log_dir)


def epoch_scalars(log_dir: str | Path):
    """A callback writing each epoch's logs as TensorBoard scalars with the ``tensorboard`` package alone."""
    import keras
    from tensorboard.summary import Writer

    class EpochScalars(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.log_dir = Path(log_dir)
            self.writers: dict[str, Writer] = {}

        def _writer(self, split: str) -> Writer:
            if split not in self.writers:
                self.writers[split] = Writer(str(self.log_dir / split))
            return self.writers[split]

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    continue
                self._writer(split).add_scalar(f"epoch_{name}", number, step=epoch)
            for writer in self.writers.values():
                writer.flush()

        def on_train_end(self, logs=None):
            for writer in self.writers.values():
                writer.close()
            self.writers = {}

    return EpochScalars()
