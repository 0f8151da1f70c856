"""Batches of in-memory examples as a ``keras.utils.PyDataset``: the input path where TensorFlow is absent.

With TensorFlow installed, dlbook feeds every backend through ``tf.data`` (``dlbook.datasets.io.pipeline``).
A JAX or PyTorch install without TensorFlow gets the same batches from NumPy: the examples gathered by
index, then encoded per batch (``encode.numpy``, e.g. multi-hot vectors), so that no dataset is
materialised in its encoded form.

Order: pass ``p`` over the training examples is ``default_rng([seed, p]).permutation(n)``, a pure function
of the fit's seed and the pass, as the tf.data path's is (a different permutation, the same property), so a
resumed fit continues with the batches an uninterrupted one would have drawn:

- ``pass_number`` (a callable giving the epoch's pass): one pass per epoch, Keras' per-epoch iterator;
- ``start`` with ``endless=True``: one stream for the whole fit, batch ``i`` of the stream being batch
  ``(start + i) mod batches_per_pass`` of pass ``(start + i) // batches_per_pass``.

Evaluation batches (``seed=None``) keep the examples' order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook.datasets.io.examples import Examples, RaggedSequences
from dlbook.errors import ConfigError, DlbookError


def numpy_encoder(encode: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """The NumPy version of a dataset's per-batch ``encode`` (None: no encoding); ConfigError if it has none."""
    if encode is None:
        return None
    numpy_version = getattr(encode, "numpy", None)
    if numpy_version is None:
        raise ConfigError(
            "This dataset encodes its batches with TensorFlow (tf.data), and TensorFlow is not installed. "
            "Install it (pip install tensorflow), or use a dataset whose batches need no TensorFlow."
        )
    return numpy_version


def array_batches(
    examples: Examples,
    batch_size: int,
    *,
    seed: int | None = None,
    encode: Callable[[Any], Any] | None = None,
    max_batches: int | None = None,
    pass_number: Callable[[], int] | None = None,
    start: int = 0,
    endless: bool = False,
):
    """A ``keras.utils.PyDataset`` of ``(inputs, targets)`` batches over ``examples`` (see the module's doc)."""
    encode_numpy = numpy_encoder(encode)
    if isinstance(examples.features, RaggedSequences) and encode_numpy is None:
        raise ConfigError(
            "This dataset's examples are variable-length sequences that tf.data batches as ragged tensors, and "
            "TensorFlow is not installed. Install it (pip install tensorflow), or give the sequences a fixed "
            "length (e.g. dataset.maxlen) or an encoding (dataset.vectorize=multi_hot)."
        )

    def make_batch(indices: np.ndarray):
        picked = examples.take(indices)
        features = picked.features if encode_numpy is None else encode_numpy(picked.features)
        return features, picked.targets

    return index_batches(
        len(examples),
        batch_size,
        make_batch,
        seed=seed,
        max_batches=max_batches,
        pass_number=pass_number,
        start=start,
        endless=endless,
    )


def index_batches(
    size: int,
    batch_size: int,
    make_batch: Callable[[np.ndarray], Any],
    *,
    seed: int | None = None,
    max_batches: int | None = None,
    pass_number: Callable[[], int] | None = None,
    start: int = 0,
    endless: bool = False,
):
    """A ``keras.utils.PyDataset`` whose batch is ``make_batch(indices)`` for the batch's example indices.

    The order of the indices follows the module's rules (a pure function of ``seed`` and the pass). Without
    ``pass_number`` a finite dataset counts its own passes (Keras calls ``on_epoch_end`` after each epoch).
    """
    import keras

    per_pass = math.ceil(size / batch_size)
    length = per_pass if max_batches is None or endless else min(per_pass, int(max_batches))

    class IndexBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self._orders: dict[int, np.ndarray] = {}
            self.passes_done = 0

        @property
        def num_batches(self):
            return None if endless else length

        def __len__(self) -> int:
            return length

        def on_epoch_end(self) -> None:
            self.passes_done += 1

        def _order(self, number: int) -> np.ndarray:
            if seed is None:
                return np.arange(size)
            if number not in self._orders:
                self._orders = {number: np.random.default_rng([int(seed), int(number)]).permutation(size)}
            return self._orders[number]

        def __getitem__(self, index: int):
            if endless:
                number, within = divmod(start + int(index), per_pass)
            else:
                number = pass_number() if pass_number is not None else self.passes_done
                within = int(index)
            return make_batch(self._order(number)[within * batch_size : (within + 1) * batch_size])

    return IndexBatches()


def numpy_batches(examples: Examples, data, batch_size: int, **options):
    """The NumPy batches of ``examples`` for ``data`` (a DataSplits): the array datasets' gather, or the
    dataset's own ``make_pipeline.numpy_batch`` (Jena's windows); a DlbookError for a tf.data-only pipeline.
    ``options`` are :func:`index_batches`' (seed, max_batches, pass_number, start, endless)."""
    if data.make_pipeline is None:
        return array_batches(examples, batch_size, encode=data.encode, **options)
    numpy_batch = getattr(data.make_pipeline, "numpy_batch", None)
    if numpy_batch is None:
        raise DlbookError(
            "This dataset's input pipeline is written with tf.data (images: decoding, resizing and augmentation), "
            "and TensorFlow is not installed. Install it (pip install tensorflow) to train on this dataset; array "
            "datasets (MNIST, IMDB, Reuters, Boston, your own .npz) and the Jena windows run without it."
        )
    return index_batches(len(examples), batch_size, numpy_batch(examples), **options)
