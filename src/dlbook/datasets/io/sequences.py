"""Integer sequences (IMDB, Reuters): reading them from a file and encoding them for a model."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook.datasets.io.examples import RaggedSequences
from dlbook.errors import ConfigError, DatasetFormatError

VECTORIZE_CHOICES = ("multi_hot", "sequences")


def ragged_from_array(array: np.ndarray, source: str) -> RaggedSequences:
    """Turn a file's sequences (an object array of int lists, or a 2-D int array) into int32 ragged rows.

    ``source`` names the file and key in the error raised when the array holds something else.
    """
    if array.dtype != object:
        if array.ndim == 2 and np.issubdtype(array.dtype, np.integer):
            lengths = np.full(len(array), array.shape[1], dtype=np.int64)
            return RaggedSequences(array.reshape(-1).astype(np.int32), _splits(lengths))
        raise DatasetFormatError(
            f"{source} should hold integer sequences, but is a {array.dtype} array of shape {array.shape}"
        )
    try:
        lengths = np.fromiter((len(row) for row in array), dtype=np.int64, count=len(array))
        # One pass over all words, without building a NumPy array per row.
        values = np.fromiter(itertools.chain.from_iterable(array), dtype=np.int64, count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError) as error:
        raise DatasetFormatError(f"{source} should hold lists of word indices: {error}") from error
    if values.size and (values.min() < 0 or values.max() > np.iinfo(np.int32).max):
        raise DatasetFormatError(f"{source} holds word indices outside 0..{np.iinfo(np.int32).max}")
    return RaggedSequences(values.astype(np.int32), _splits(lengths))


def _splits(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def concatenate(first: RaggedSequences, second: RaggedSequences) -> RaggedSequences:
    """The rows of ``first`` followed by the rows of ``second``."""
    values = np.concatenate([first.values, second.values])
    row_splits = np.concatenate([first.row_splits, second.row_splits[1:] + first.row_splits[-1]])
    return RaggedSequences(values, row_splits.astype(np.int64))


def check_options(
    *,
    num_words: int | None,
    skip_top: int,
    seed: int,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
    vectorize: str,
) -> None:
    """Raise :class:`ConfigError` for an invalid option of the IMDB / Reuters loaders."""
    if num_words is not None and (not _is_int(num_words) or num_words < 4):
        raise ConfigError(
            f"dataset.num_words={num_words} is not valid: an integer >= 4 (indices 0-2 are reserved "
            "for padding, start and out-of-vocabulary, words start at 3), or null to keep every word"
        )
    for key, value in (("skip_top", skip_top), ("index_from", index_from), ("seed", seed)):
        if not _is_int(value) or value < 0:
            raise ConfigError(f"dataset.{key}={value} is not valid: an integer >= 0")
    for key, value in (("start_char", start_char), ("oov_char", oov_char)):
        if value is not None and (not _is_int(value) or value < 0):
            raise ConfigError(f"dataset.{key}={value} is not valid: an integer >= 0, or null for none")
    if vectorize not in VECTORIZE_CHOICES:
        raise ConfigError(
            f"dataset.vectorize={vectorize} is not valid: one of {', '.join(VECTORIZE_CHOICES)} "
            "(multi_hot: one vector of num_words per text; sequences: the word indices, for embeddings)"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def encoding(vectorize: str, num_words: int) -> tuple[Callable[[Any], Any] | None, tuple[int | None, ...]]:
    """The ``(encode, input_shape)`` of a sequence dataset for ``dataset.vectorize``."""
    if vectorize == "multi_hot":
        return multi_hot_encoder(num_words), (num_words,)
    return None, (None,)


def reindex(
    sequences: RaggedSequences,
    *,
    num_words: int | None,
    skip_top: int,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
) -> tuple[RaggedSequences, int]:
    """Apply Keras' IMDB/Reuters index conventions, as ``keras.datasets.imdb.load_data`` does.

    Words are shifted by ``index_from``; ``start_char`` (if not None) is put before each row;
    then every index outside ``skip_top <= w < num_words`` (the start mark included) becomes
    ``oov_char``, or is dropped when ``oov_char`` is None. Works on the flat values array.
    Returns the sequences and ``num_words`` (when None, Keras' choice: the largest index).
    """
    values = sequences.values.astype(np.int64)
    row_splits = sequences.row_splits
    if index_from:
        values = values + index_from
    if start_char is not None:
        # Row i grows by one, so its start moves right by i.
        new_splits = row_splits + np.arange(len(row_splits), dtype=np.int64)
        is_start = np.zeros(len(values) + len(sequences), dtype=bool)
        is_start[new_splits[:-1]] = True
        shifted = np.empty(len(is_start), dtype=np.int64)
        shifted[is_start] = start_char
        shifted[~is_start] = values
        values, row_splits = shifted, new_splits

    if num_words is None:
        # Keras' rule, quirk included: the largest index itself then falls outside `w < num_words`.
        num_words = int(values.max()) if values.size else 0
    in_vocabulary = (values >= skip_top) & (values < num_words)
    if oov_char is not None:
        values = np.where(in_vocabulary, values, oov_char)
    else:
        kept_before = np.concatenate([[0], np.cumsum(in_vocabulary)])
        values = values[in_vocabulary]
        row_splits = kept_before[row_splits].astype(np.int64)
    return RaggedSequences(values.astype(np.int32), row_splits), num_words


def multi_hot_encoder(num_words: int) -> Callable[[Any], Any]:
    """A function mapping a batch of int sequences to float32 multi-hot vectors ``[batch, num_words]``.

    The batch is a ``tf.RaggedTensor`` (or a dense int tensor), one row per example; the result
    has 1.0 at every index present in the row (indices >= ``num_words`` are ignored). This is the
    book's ``vectorize_sequences``, done per batch inside tf.data instead of on the whole set.
    """
    if num_words < 1:
        raise ValueError(f"num_words must be at least 1, got {num_words}")

    def encode(batch: Any) -> Any:
        import tensorflow as tf

        return tf.math.bincount(
            batch,
            minlength=num_words,
            maxlength=num_words,
            binary_output=True,
            axis=-1,
            dtype=tf.float32,
        )

    def encode_numpy(batch: RaggedSequences) -> np.ndarray:
        # The same vectors from a NumPy batch (the input path without TensorFlow).
        rows = np.repeat(np.arange(len(batch)), batch.lengths)
        keep = (batch.values >= 0) & (batch.values < num_words)
        vectors = np.zeros((len(batch), num_words), dtype=np.float32)
        vectors[rows[keep], batch.values[keep]] = 1.0
        return vectors

    encode.numpy = encode_numpy
    return encode


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels ``0 .. num_classes - 1`` as float32 one-hot rows (the book's ``to_categorical``)."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded
