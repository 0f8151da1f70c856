"""IMDB reviews as fixed-length word-index sequences, for embeddings, RNNs and 1D convnets (book 6.1-6.4).

The book loads ``imdb.load_data(num_words=10000)`` and then calls ``pad_sequences(x, maxlen=500)``:
reviews longer than ``maxlen`` lose their *first* words (``truncating="pre"``) and shorter ones get
zeros in front (``padding="pre"``). Book 6.3 also reverses every review (``x[::-1]``) before padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.datasets import imdb
from dlbook.datasets.io.examples import DataSplits, Examples, RaggedSequences
from dlbook.errors import ConfigError

SIDES = ("pre", "post")


def load(
    *,
    path: str | None = None,
    origin: str = imdb.ORIGIN,
    file_hash: str | None = imdb.FILE_HASH,
    cache_dir: str | None = None,
    num_words: int | None = 10000,
    maxlen: int = 500,
    reverse: bool = False,
    padding: str = "pre",
    truncating: str = "pre",
    seed: int = 113,
) -> DataSplits:
    """IMDB as ``pad_sequences(imdb.load_data(num_words)[...], maxlen)``: dense int32 ``(n, maxlen)`` features.

    The reviews are those of :func:`dlbook.datasets.imdb.load` (Keras' order and indices: 1 marks the
    start, 2 an out-of-vocabulary word). ``reverse=True`` reverses each review before padding (book 6.3).
    """
    check_padding_options(maxlen=maxlen, padding=padding, truncating=truncating)
    if not isinstance(reverse, (bool, np.bool_)):
        raise ConfigError(f"dataset.reverse={reverse} is not valid: true or false")
    data = imdb.load(
        path=path,
        origin=origin,
        file_hash=file_hash,
        cache_dir=cache_dir,
        num_words=num_words,
        seed=seed,
        vectorize="sequences",
    )

    def fixed_length(examples: Examples) -> Examples:
        sequences = examples.features
        if reverse:
            sequences = reverse_rows(sequences)
        return Examples(pad_sequences(sequences, maxlen, padding=padding, truncating=truncating), examples.targets)

    details = f"padded to {maxlen} words ({padding}), truncated {truncating}" + (", reversed" if reverse else "")
    return DataSplits(
        train=fixed_length(data.train),
        test=fixed_length(data.test),
        input_shape=(maxlen,),
        source=f"{data.source}, {details}",
        differs_from_book=data.differs_from_book,
        info={"num_words": data.info["num_words"], "maxlen": maxlen},
    )


def check_padding_options(*, maxlen: Any, padding: Any, truncating: Any) -> None:
    """Raise :class:`ConfigError` for an invalid ``maxlen``, ``padding`` or ``truncating``."""
    if not isinstance(maxlen, (int, np.integer)) or isinstance(maxlen, bool) or maxlen < 1:
        raise ConfigError(f"dataset.maxlen={maxlen} is not valid: the number of words kept per text, an integer >= 1")
    for key, value in (("padding", padding), ("truncating", truncating)):
        if value not in SIDES:
            raise ConfigError(
                f"dataset.{key}={value} is not valid: pre (at the start of the text, Keras' default) or post"
            )


def reverse_rows(sequences: RaggedSequences) -> RaggedSequences:
    """Every row reversed (the book's ``[x[::-1] for x in x_train]``), without a Python loop."""
    lengths = sequences.lengths
    starts = sequences.row_splits[:-1]
    # Position p of row i takes the value at the row's end minus p.
    position_in_row = np.arange(len(sequences.values), dtype=np.int64) - np.repeat(starts, lengths)
    source = np.repeat(starts + lengths - 1, lengths) - position_in_row
    return RaggedSequences(sequences.values[source], sequences.row_splits)


def pad_sequences(
    sequences: RaggedSequences, maxlen: int, *, padding: str = "pre", truncating: str = "pre", value: int = 0
) -> np.ndarray:
    """Ragged rows as an int32 ``(n, maxlen)`` array, like ``keras.utils.pad_sequences(rows, maxlen)``.

    ``truncating="pre"`` keeps the last ``maxlen`` values of a longer row, ``"post"`` the first;
    ``padding="pre"`` puts the ``value`` fill before a shorter row, ``"post"`` after it. One vectorized
    scatter for all rows (Keras loops over the rows in Python).
    """
    count = len(sequences)
    padded = np.full((count, maxlen), value, dtype=np.int32)
    lengths = sequences.lengths
    kept = np.minimum(lengths, maxlen)
    skipped = lengths - kept if truncating == "pre" else np.zeros_like(lengths)
    first_column = maxlen - kept if padding == "pre" else np.zeros_like(kept)

    row_of_value = np.repeat(np.arange(count, dtype=np.int64), kept)
    kept_starts = np.cumsum(kept) - kept
    offset = np.arange(int(kept.sum()), dtype=np.int64) - np.repeat(kept_starts, kept)
    source = sequences.row_splits[:-1][row_of_value] + skipped[row_of_value] + offset
    padded[row_of_value, first_column[row_of_value] + offset] = sequences.values[source]
    return padded
