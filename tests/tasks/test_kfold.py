"""K-fold indices as the book builds them (3.7)."""

from __future__ import annotations

import numpy as np

from dlbook.tasks.kfold import fold_indices


def test_folds_match_the_books_slicing():
    # 404 examples, k=4: num_val_samples = 101; the last fold validates on [303, 404).
    for fold in range(4):
        training, validation = fold_indices(404, 4, fold)
        assert validation.tolist() == list(range(fold * 101, (fold + 1) * 101))
        assert len(training) == 303
        assert not set(training.tolist()) & set(validation.tolist())


def test_remainder_examples_are_always_trained_on():
    # 10 examples in 3 folds of 3: example 9 is never validated on, as in the book's code.
    validated = np.concatenate([fold_indices(10, 3, fold)[1] for fold in range(3)])
    assert sorted(validated.tolist()) == list(range(9))
    assert all(9 in fold_indices(10, 3, fold)[0] for fold in range(3))
