"""IMDB movie reviews (25,000 train / 25,000 test, positive or negative), as Keras ships them.

Same data, order and word indices as ``keras.datasets.imdb.load_data``, read with our own
safe parser so that ``dataset.path`` / the cache are used as they are.
"""

from __future__ import annotations

import numpy as np

from dlbook.datasets.io import sequences
from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.safe_npz import expected_keras_npz, load_npz
from dlbook.errors import DatasetFormatError

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
KEYS = ("x_train", "y_train", "x_test", "y_test")


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    num_words: int | None = 10000,
    skip_top: int = 0,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    vectorize: str = "multi_hot",
) -> DataSplits:
    """Load IMDB as ``keras.datasets.imdb.load_data(num_words=..., ...)`` would.

    Train and test are each shuffled with ``np.random.RandomState(seed)`` (one generator, train
    first); word ``w`` of the file becomes ``w + index_from``, each review starts with
    ``start_char``, and indices outside ``skip_top <= i < num_words`` become ``oov_char``.
    Features are int32 ragged sequences, labels float32 0/1. ``vectorize="multi_hot"`` encodes
    each batch as ``num_words`` 0/1 floats (the book's ``vectorize_sequences``).
    """
    sequences.check_options(
        num_words=num_words,
        skip_top=skip_top,
        seed=seed,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
        vectorize=vectorize,
    )
    file = fetch("IMDB", fname="imdb.npz", origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
    arrays = load_npz(file, required=KEYS, expected=expected_keras_npz("imdb.npz", KEYS, origin))

    splits = []
    rng = np.random.RandomState(seed)
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        features = sequences.ragged_from_array(arrays[x_key], f"{file} ({x_key})")
        labels = np.asarray(arrays[y_key])
        if labels.ndim != 1 or len(labels) != len(features):
            raise DatasetFormatError(
                f"{file}: {y_key} has shape {labels.shape}, expected one label per review of {x_key} ({len(features)})"
            )
        # Keras draws the train permutation, then the test one, from the same generator.
        order = np.arange(len(features))
        rng.shuffle(order)
        splits.append((features.take(order), labels[order]))

    (train_x, train_y), (test_x, test_y) = splits
    # Keras picks num_words=None as the largest index over train and test together.
    both, num_words = sequences.reindex(
        sequences.concatenate(train_x, test_x),
        num_words=num_words,
        skip_top=skip_top,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )
    num_train = len(train_x)
    train_x = both.take(np.arange(num_train))
    test_x = both.take(np.arange(num_train, len(both)))

    encode, input_shape = sequences.encoding(vectorize, num_words)
    return DataSplits(
        train=Examples(train_x, train_y.astype(np.float32)),
        test=Examples(test_x, test_y.astype(np.float32)),
        input_shape=input_shape,
        source=f"Keras file {file}",
        encode=encode,
        info={"num_words": num_words},
    )
