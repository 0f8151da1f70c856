"""Reuters newswires (11,228 texts, 46 topics), as Keras ships them: 8,982 train / 2,246 test.

Same data, order and word indices as ``keras.datasets.reuters.load_data``, read with our own
safe parser so that ``dataset.path`` / the cache are used as they are.
"""

from __future__ import annotations

import numpy as np

from dlbook.datasets.io import sequences
from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.safe_npz import expected_keras_npz, load_npz
from dlbook.errors import ConfigError, DatasetFormatError

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
NUM_TOPICS = 46
LABEL_CHOICES = ("one_hot", "sparse")


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    num_words: int | None = 10000,
    skip_top: int = 0,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    vectorize: str = "multi_hot",
    labels: str = "one_hot",
) -> DataSplits:
    """Load Reuters as ``keras.datasets.reuters.load_data(num_words=..., ...)`` would.

    All texts are shuffled with ``np.random.RandomState(seed)``, re-indexed like IMDB (see
    :func:`dlbook.datasets.imdb.load`), and the first ``int(n * (1 - test_split))`` become the
    training set. ``labels="one_hot"`` gives float32 rows of ``num_classes`` (46, or more if the
    file has higher topic numbers), ``"sparse"`` the int32 topic numbers.
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
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 <= test_split < 1:
        raise ConfigError(f"dataset.test_split={test_split} is not valid: a fraction in [0, 1), e.g. 0.2")
    if labels not in LABEL_CHOICES:
        raise ConfigError(
            f"dataset.labels={labels} is not valid: one of {', '.join(LABEL_CHOICES)} "
            "(one_hot for categorical_crossentropy, sparse for sparse_categorical_crossentropy)"
        )

    file = fetch("Reuters", fname="reuters.npz", origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
    arrays = load_npz(file, required=("x", "y"), expected=expected_keras_npz("reuters.npz", ("x", "y"), origin))
    texts = sequences.ragged_from_array(arrays["x"], f"{file} (x)")
    topics = np.asarray(arrays["y"])
    if topics.ndim != 1 or len(topics) != len(texts) or not np.issubdtype(topics.dtype, np.integer):
        raise DatasetFormatError(
            f"{file}: y is a {topics.dtype} array of shape {topics.shape}, expected one integer topic per "
            f"text of x ({len(texts)})"
        )
    if topics.size and topics.min() < 0:
        raise DatasetFormatError(f"{file}: y holds negative topic numbers")

    order = np.arange(len(texts))
    np.random.RandomState(seed).shuffle(order)
    texts, num_words = sequences.reindex(
        texts.take(order),
        num_words=num_words,
        skip_top=skip_top,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )
    topics = topics[order]

    num_classes = max(NUM_TOPICS, int(topics.max()) + 1 if topics.size else 0)
    targets = sequences.one_hot(topics, num_classes) if labels == "one_hot" else topics.astype(np.int32)
    num_train = int(len(texts) * (1 - test_split))
    train_rows, test_rows = np.arange(num_train), np.arange(num_train, len(texts))

    encode, input_shape = sequences.encoding(vectorize, num_words)
    return DataSplits(
        train=Examples(texts.take(train_rows), targets[train_rows]),
        test=Examples(texts.take(test_rows), targets[test_rows]),
        input_shape=input_shape,
        source=f"Keras file {file}",
        encode=encode,
        info={"num_classes": num_classes, "num_words": num_words},
    )
