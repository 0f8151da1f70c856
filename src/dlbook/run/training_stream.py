"""The training data of one fit as a stream with a position: what a backup saves, and a resumed fit continues.

Keras draws a fit's batches in one of two ways, and the stream follows it:

- **endless**: one iterator for the whole fit, ``steps_per_epoch`` batches per epoch (rounded up to whole
  ``steps_per_execution`` chunks, which Keras draws in full). Used with ``trainer.steps_per_epoch``, and
  when the chunks divide one pass over the data. The data is one stream reshuffled at each pass; the
  position after ``k`` epochs is ``k`` times the batches an epoch draws, and a resumed fit rebuilds the
  stream and skips to there, so it sees the very batches an uninterrupted fit would.
- **epochs**: a finite pass per epoch, a new iterator each epoch (when ``steps_per_execution`` does not divide
  the pass: Keras would otherwise carry the rounded-up chunk into the next epoch). A reshuffling dataset would
  start its orders afresh in a resumed process, so for the array datasets (every dataset without its own
  ``make_pipeline``) the order of the pass is a pure function of the fit's seed and the epoch's number
  (``dlbook.datasets.io.pipeline.ordered_batches``), which the stream's callback sets before each epoch draws
  its batches. A dataset's own pipeline (images, Jena windows) resumes with a new order in this way.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.frameworks import tensorflow_available

log = logging.getLogger("dlbook")


class TrainingStream:
    """The batches of one fit: its dataset from a saved position, and the position after a number of epochs."""

    def __init__(self, train: Examples, data: DataSplits, settings, batch_size: int, seed: int, steps_per_epoch):
        self.train, self.data, self.settings = train, data, settings
        self.batch_size, self.seed = batch_size, seed
        self.chunk = int(settings.steps_per_execution)
        self.repeat = bool(steps_per_epoch)  # the book's endless generators: passes run across epochs
        self.pass_number = None
        self.host_pass = 0  # the epoch's pass where NumPy makes the batches (no TensorFlow)
        one_pass = self._pipeline(repeat=False)
        # A tf.data dataset knows its length as its cardinality; NumPy batches (no TensorFlow) as len().
        self.pass_batches = int(one_pass.cardinality()) if hasattr(one_pass, "cardinality") else len(one_pass)
        endless = self.repeat or (self.pass_batches > 0 and self.pass_batches % self.chunk == 0)
        self.mode = "endless" if endless else "epochs"
        self.ordered = self.mode == "epochs" and data.make_pipeline is None
        self.steps_per_epoch = steps_per_epoch or (self.pass_batches if endless else None)

    def description(self) -> dict[str, Any]:
        """What a position means (saved with it, for the record)."""
        return {
            "mode": self.mode,
            "seed": self.seed,
            "ordered": self.ordered,
            "batches_per_pass": self.pass_batches,
            "steps_per_epoch": self.steps_per_epoch,
            "steps_per_execution": self.chunk,
        }

    def position(self, epochs: int) -> int:
        """Batches drawn from the stream by the first ``epochs`` epochs."""
        if self.mode == "endless":
            return epochs * math.ceil(self.steps_per_epoch / self.chunk) * self.chunk
        return epochs * self.pass_batches

    def dataset(self, epochs_done: int, phase: str):
        """The fit's training dataset, continuing after ``epochs_done`` epochs."""
        if not tensorflow_available():
            return self._array_batches(epochs_done)
        import tensorflow as tf

        from dlbook.datasets.io.pipeline import ordered_batches

        if self.mode == "endless":
            position = self.position(epochs_done)
            dataset = self._pipeline(repeat=True) if self.repeat else self._pipeline(repeat=False).repeat()
            return dataset.skip(position) if position else dataset
        if self.ordered:
            # On the host, where tf.data runs its functions (a GPU-placed variable could not be read there).
            with tf.device("/cpu:0"):
                self.pass_number = tf.Variable(epochs_done, dtype=tf.int64, trainable=False)
            dataset = ordered_batches(
                self.train,
                self.batch_size,
                seed=self.seed,
                pass_number=self.pass_number,
                encode=self.data.encode,
                input_shape=self.data.input_shape,
                max_batches=self.settings.max_steps,
            )
            # Known length, as for any finite pass: Keras counts the epoch's steps from it.
            return dataset.apply(tf.data.experimental.assert_cardinality(self.pass_batches))
        if epochs_done:
            log.info(
                "%s: trainer.steps_per_execution=%d does not divide the epoch's %d batches of this dataset's own "
                "pipeline, so the resumed epochs see a new shuffling order (the results differ slightly from an "
                "uninterrupted run)",
                phase,
                self.chunk,
                self.pass_batches,
            )
        return self._pipeline(repeat=False)

    def _array_batches(self, epochs_done: int):
        """The same stream from NumPy batches (no TensorFlow installed): ``dlbook.datasets.io.array_batches``."""
        from dlbook.datasets.io.array_batches import numpy_batches

        if self.mode == "endless":
            return numpy_batches(
                self.train, self.data, self.batch_size, seed=self.seed, start=self.position(epochs_done), endless=True
            )
        self.host_pass = epochs_done
        return numpy_batches(
            self.train,
            self.data,
            self.batch_size,
            seed=self.seed,
            pass_number=lambda: self.host_pass,
            max_batches=self.settings.max_steps,
        )

    def callback(self):
        """The Keras callback that tells the stream each epoch's number before the epoch draws its batches."""
        import keras

        stream = self

        class EpochPass(keras.callbacks.Callback):
            async_safe = True  # no batch hooks

            def on_epoch_begin(self, epoch, logs=None):
                # Keras makes the epoch's iterator after this hook: its pass is pass number ``epoch``.
                if stream.pass_number is not None:
                    stream.pass_number.assign(epoch)
                stream.host_pass = epoch

        return EpochPass()

    def _pipeline(self, repeat: bool):
        from dlbook.run.trainer import pipeline

        return pipeline(
            self.train,
            self.data,
            self.settings,
            self.batch_size,
            shuffle=True,
            seed=self.seed,
            training=True,
            repeat=repeat,
        )
