"""The debug limits that loaders apply to their own pre-computation (dlbook.datasets.io.limits)."""

from __future__ import annotations

import numpy as np

from dlbook.datasets.io.limits import current_limit, example_limit, limit_examples, limited_to


def test_the_limit_is_the_examples_a_debug_runs_batches_can_use():
    assert example_limit({"max_steps": 3, "batch_size": 20}) == 60
    assert example_limit({"max_steps": None, "batch_size": 20}) is None  # not a debug run: no limit


def test_limit_examples_keeps_an_even_spread_inside_the_block_only():
    paths = [f"cat.{n}.jpg" for n in range(50)] + [f"dog.{n}.jpg" for n in range(50)]
    labels = np.repeat([0, 1], 50)
    with limited_to(4):
        kept, kept_labels = limit_examples(paths, labels, "train")
        assert current_limit() == 4
    assert kept == ["cat.0.jpg", "cat.33.jpg", "dog.16.jpg", "dog.49.jpg"]
    assert kept_labels.tolist() == [0, 0, 1, 1]
    assert current_limit() is None
    assert limit_examples(paths, labels, "train")[0] is paths  # outside a debug run, nothing is dropped
