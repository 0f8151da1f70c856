"""Turn in-memory examples into a batched, prefetched ``tf.data`` pipeline.

Batches are gathered from resident tensors by index (shuffled per epoch with a seed), then
encoded (for example ragged word indices -> multi-hot vectors). Only one batch is ever encoded
at a time, so IMDB's 25,000 x 10,000 multi-hot matrix is never materialised.

The resident tensors live in host memory (``/CPU:0``): made outside a device scope, TensorFlow would put
them on the GPU, where a whole dataset takes memory the model needs. Keras copies each batch to the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlbook.datasets.io.examples import Examples, RaggedSequences


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
    pass_number,
    encode: Callable[[Any], Any] | None = None,
    input_shape: tuple[int | None, ...] | None = None,
    max_batches: int | None = None,
):
    """One pass of training batches per iterator, in an order that is a pure function of ``(seed, pass)``,
    so a resumed fit sees the orders an uninterrupted one would have.

    The pass is the number ``pass_number`` (an int64 ``tf.Variable``) holds when an iterator starts (Keras
    makes one iterator per epoch of a finite dataset): the examples in the order ``stateless_shuffle(seed,
    pass)``, cut into batches, at most ``max_batches`` of them.
    """
    import tensorflow as tf

    size, seed = len(examples), tf.constant(seed, tf.int64)

    def one_pass(number):
        order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=tf.stack([seed, number]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return batches.take(max_batches) if max_batches is not None else batches

    # The variable is read when an iterator starts, not when the dataset is built.
    number = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: pass_number.read_value())
    return _gathered(number.flat_map(one_pass), examples, encode, input_shape)


def _gathered(indices, examples: Examples, encode, input_shape):
    """Batches of ``(inputs, targets)`` gathered from resident tensors, for a dataset of index batches."""
    import tensorflow as tf

    features = resident(examples.features)
    targets = resident(examples.targets)

    def gather(batch_indices):
        batch = tf.nest.map_structure(lambda values: tf.gather(values, batch_indices), features)
        if encode is not None:
            batch = encode(batch)
            if input_shape is not None:
                batch = tf.ensure_shape(batch, (None, *input_shape))
        return batch, tf.nest.map_structure(lambda values: tf.gather(values, batch_indices), targets)

    dataset = indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def resident(values):
    """Tensors in host memory holding ``values``: one tensor, a ragged tensor, or a dict of them (named inputs /
    outputs)."""
    import tensorflow as tf

    with tf.device("/CPU:0"):
        if isinstance(values, dict):
            return {name: resident(array) for name, array in values.items()}
        if isinstance(values, RaggedSequences):
            return tf.RaggedTensor.from_row_splits(tf.constant(values.values), tf.constant(values.row_splits))
        return tf.constant(values)
