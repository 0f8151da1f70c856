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

    features = resident(examples.features)
    targets = resident(examples.targets)

    def gather(indices):
        batch = tf.nest.map_structure(lambda values: tf.gather(values, indices), features)
        if encode is not None:
            batch = encode(batch)
            if input_shape is not None:
                batch = tf.ensure_shape(batch, (None, *input_shape))
        return batch, tf.nest.map_structure(lambda values: tf.gather(values, indices), targets)

    dataset = tf.data.Dataset.range(len(examples))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
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
