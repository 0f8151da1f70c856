"""The default array pipeline: shuffled, seeded batches; named inputs and outputs for multi-io models."""

from __future__ import annotations

import numpy as np

from dlbook.datasets.io.examples import Examples, RaggedSequences
from dlbook.datasets.io.pipeline import to_tf_dataset


def test_named_inputs_and_outputs_stay_aligned_through_take_and_batches():
    count = 10
    examples = Examples(
        {"text": np.arange(count * 3).reshape(count, 3), "question": np.arange(count)[:, None] * 100},
        {"answer": np.arange(count, dtype=np.float32), "flag": np.arange(count) % 2},
    )
    part = examples.take(np.array([7, 2, 5]))
    assert len(part) == 3
    assert part.features["question"][:, 0].tolist() == [700, 200, 500]
    batches = list(to_tf_dataset(part, 2, shuffle=True, seed=1))
    seen = []
    for inputs, targets in batches:
        assert set(inputs) == {"text", "question"} and set(targets) == {"answer", "flag"}
        for question, answer in zip(inputs["question"].numpy()[:, 0], targets["answer"].numpy(), strict=True):
            assert question == 100 * answer  # rows never mix
            seen.append(int(answer))
    assert sorted(seen) == [2, 5, 7]


def test_shuffling_repeats_for_a_seed_and_changes_every_epoch():
    examples = Examples(np.arange(50)[:, None].astype(np.float32), np.arange(50, dtype=np.float32))
    dataset = to_tf_dataset(examples, 50, shuffle=True, seed=3)
    first, second = (next(iter(dataset))[1].numpy().tolist() for _ in range(2))
    again = next(iter(to_tf_dataset(examples, 50, shuffle=True, seed=3)))[1].numpy().tolist()
    assert first == again and first != second and sorted(first) == list(range(50))


def test_ragged_sequences_are_encoded_per_batch():
    examples = Examples(RaggedSequences.from_lists([[1, 2], [3], [4, 5, 6]]), np.zeros(3, dtype=np.float32))

    def lengths(batch):
        return batch.row_lengths()

    ((inputs, _),) = list(to_tf_dataset(examples, 3, shuffle=False, encode=lengths))
    assert inputs.numpy().tolist() == [2, 1, 3]
