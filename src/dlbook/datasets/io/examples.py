"""In-memory examples (features + targets) and the splits a dataset loader returns.

Features are either a dense NumPy array or ragged integer sequences (IMDB, Reuters). Ragged
sequences stay compact (a flat values array and row splits); a per-batch ``encode`` function
turns them into model inputs (for example multi-hot vectors) inside the tf.data pipeline, so
a 25,000 x 10,000 float matrix never exists in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RaggedSequences:
    """Variable-length integer sequences stored as one flat ``values`` array plus ``row_splits``.

    Row ``i`` is ``values[row_splits[i]:row_splits[i + 1]]``.
    """

    values: np.ndarray
    row_splits: np.ndarray

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]], dtype: Any = np.int32) -> RaggedSequences:
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if len(sequences):
            values = np.concatenate([np.asarray(s, dtype=dtype) for s in sequences])
        else:
            values = np.zeros(0, dtype=dtype)
        return cls(values.astype(dtype, copy=False), row_splits)

    def __len__(self) -> int:
        return len(self.row_splits) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_splits)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.values[self.row_splits[index] : self.row_splits[index + 1]]

    def take(self, indices: np.ndarray) -> RaggedSequences:
        """The sequences at ``indices``, in that order (a copy)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.row_splits[indices]
        lengths = self.row_splits[indices + 1] - starts
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Position of every kept value in the flat array, built without a Python loop.
        offsets = np.repeat(starts - row_splits[:-1], lengths)
        positions = np.arange(row_splits[-1], dtype=np.int64) + offsets
        return RaggedSequences(self.values[positions], row_splits)

    def to_lists(self) -> list[list[int]]:
        return [self[i].tolist() for i in range(len(self))]


# One array (or ragged sequences), or named arrays for models with several inputs or outputs.
Features = np.ndarray | RaggedSequences | dict[str, np.ndarray]
Targets = np.ndarray | dict[str, np.ndarray]


def _length(values) -> int:
    return len(next(iter(values.values()))) if isinstance(values, dict) else len(values)


def _take(values, indices: np.ndarray):
    if isinstance(values, dict):
        return {name: _take(array, indices) for name, array in values.items()}
    if isinstance(values, RaggedSequences):
        return values.take(indices)
    return values[indices]


@dataclass(frozen=True)
class Examples:
    """Features and targets of one split, row-aligned (dicts for named model inputs / outputs)."""

    features: Features
    targets: Targets

    def __post_init__(self) -> None:
        lengths = {_length(self.features), _length(self.targets)}
        for values in (self.features, self.targets):
            if isinstance(values, dict):
                lengths |= {len(array) for array in values.values()}
        if len(lengths) != 1:
            raise ValueError(f"features and targets differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return _length(self.targets)

    def take(self, indices: np.ndarray) -> Examples:
        """The examples at ``indices`` (a copy), e.g. a validation slice or the folds of k-fold."""
        indices = np.asarray(indices, dtype=np.int64)
        return Examples(_take(self.features, indices), _take(self.targets, indices))


@dataclass
class DataSplits:
    """What every dataset loader returns.

    ``encode`` (optional) is a function of a batch of features (a ``tf.Tensor`` or
    ``tf.RaggedTensor``) returning the model input batch; it runs inside the tf.data pipeline.
    ``input_shape`` is the shape of one encoded example (without the batch axis).
    ``source`` says in words where the data came from (logged with every run).
    ``validation`` is a validation split the dataset defines itself (e.g. cats vs dogs 1000-1499);
    tasks use it when the config asks for no validation slice of the training data.
    ``make_pipeline`` (optional) replaces the default array pipeline: called as
    ``make_pipeline(examples, batch_size, shuffle=..., seed=..., training=...)`` it returns a batched
    ``tf.data.Dataset`` of ``(inputs, targets)``; ``training=True`` switches augmentation on.
    ``differs_from_book`` says why the data is not the book's (a bundled sample, generated data, the user's
    own arrays); a run on it is then "not comparable" with the book's number. None: the book's data.
    """

    train: Examples
    test: Examples
    input_shape: tuple[int, ...]
    source: str
    encode: Callable[[Any], Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    validation: Examples | None = None
    make_pipeline: Callable[..., Any] | None = None
    differs_from_book: str | None = None
