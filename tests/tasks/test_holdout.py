"""The hold-out protocol's validation slices (the book's x_train[:10000])."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.datasets.io.examples import Examples, RaggedSequences
from dlbook.errors import ConfigError
from dlbook.tasks.holdout import split_validation, validation_indices


def test_first_slice_is_the_books_x_train_head():
    assert validation_indices(25_000, 10_000, "first", seed=0).tolist() == list(range(10_000))


def test_fraction_last_and_random_slices():
    assert validation_indices(10, 0.2, "last", seed=0).tolist() == [8, 9]
    random = validation_indices(100, 10, "random", seed=3)
    assert len(set(random.tolist())) == 10 and random.tolist() == validation_indices(100, 10, "random", 3).tolist()


def test_no_validation_keeps_all_training_examples():
    examples = Examples(np.arange(10).reshape(10, 1), np.arange(10))
    train, validation = split_validation(examples, None, "first", seed=0)
    assert validation is None and len(train) == 10


def test_split_keeps_features_and_targets_aligned_for_ragged_sequences():
    sequences = RaggedSequences.from_lists([[i] * (i + 1) for i in range(6)])
    examples = Examples(sequences, np.arange(6, dtype=np.float32))
    train, validation = split_validation(examples, 2, "first", seed=0)
    assert validation.features.to_lists() == [[0], [1, 1]]
    assert train.targets.tolist() == [2, 3, 4, 5]
    assert train.features.to_lists()[0] == [2, 2, 2]


@pytest.mark.parametrize("size", [0, 10, 25, -1, "many", True])
def test_invalid_sizes_name_the_key(size):
    with pytest.raises(ConfigError, match="task.validation.size"):
        validation_indices(10, size, "first", seed=0)


def test_invalid_take_names_the_key():
    with pytest.raises(ConfigError, match="task.validation.take='middle'"):
        validation_indices(10, 2, "middle", seed=0)
