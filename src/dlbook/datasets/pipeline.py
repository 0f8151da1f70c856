"""Turn in-memory examples into a batched, prefetched ``tf.data`` pipeline.

Batches are gathered from resident tensors by index (shuffled per epoch with a seed), then
encoded (for example ragged word indices -> multi-hot vectors). Only one batch is ever encoded
at a time, so IMDB's 25,000 x 10,000 multi-hot matrix is never materialised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlbook.datasets.examples import Examples, RaggedSequences


def to_tf_dataset(
    examples: Examples,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int | None = None,
    encode: Callable[[Any], Any] | None = None,
    input_shape: tuple[int | None, ...] | None = None,
):
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches over ``examples``.

    ``shuffle`` reshuffles every epoch (Keras' ``fit(shuffle=True)``) from ``seed``;
    ``input_shape`` (one encoded example's shape) restores the static shape that some encoders
    lose (Keras needs to know the rank).
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.range(len(examples))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    return _gathered(dataset.batch(batch_size), examples, encode, input_shape)


def ordered_batches(
    examples: Examples,
    batch_size: int,
    *,
    seed: int,
    encode: Callable[[Any], Any] | None = None,
    input_shape: tuple[int | None, ...] | None = None,
    max_batches: int | None = None,
    first_pass: int = 0,
    skip: int = 0,
    pass_number=None,
):
    """Training batches whose order is a pure function of ``(seed, pass number)``, so a resumed fit can
    start exactly where an earlier process stopped.

    Pass ``p`` is the examples in the order ``stateless_shuffle(seed, p)``, cut into batches (at most
    ``max_batches`` of them). Without ``pass_number``: one endless stream of passes ``first_pass``,
    ``first_pass + 1``, ..., less its first ``skip`` batches. With ``pass_number`` (an int64 ``tf.Variable``):
    each iterator made from the dataset is one pass, the one ``pass_number`` holds when the iterator starts
    (Keras makes one iterator per epoch of a finite dataset).
    """
    import tensorflow as tf

    size, seed = len(examples), tf.constant(seed, tf.int64)

    def one_pass(number):
        order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=tf.stack([seed, number]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return batches.take(max_batches) if max_batches is not None else batches

    if pass_number is None:
        indices = tf.data.Dataset.counter(first_pass, dtype=tf.int64).flat_map(one_pass).skip(skip)
    else:
        # The variable is read when an iterator starts, not when the dataset is built.
        number = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: pass_number.read_value())
        indices = number.flat_map(one_pass)
    return _gathered(indices, examples, encode, input_shape)


def _gathered(indices, examples: Examples, encode, input_shape):
    """Batches of ``(inputs, targets)`` gathered from resident tensors, for a dataset of index batches."""
    import tensorflow as tf

    features = _resident(examples.features)
    targets = _resident(examples.targets)

    def gather(batch_indices):
        batch = tf.nest.map_structure(lambda values: tf.gather(values, batch_indices), features)
        if encode is not None:
            batch = encode(batch)
            if input_shape is not None:
                batch = tf.ensure_shape(batch, (None, *input_shape))
        return batch, tf.nest.map_structure(lambda values: tf.gather(values, batch_indices), targets)

    dataset = indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _resident(values):
    """Tensors holding ``values``: one tensor, a ragged tensor, or a dict of them (named inputs / outputs)."""
    import tensorflow as tf

    if isinstance(values, dict):
        return {name: _resident(array) for name, array in values.items()}
    if isinstance(values, RaggedSequences):
        return tf.RaggedTensor.from_row_splits(tf.constant(values.values), tf.constant(values.row_splits))
    return tf.constant(values)
