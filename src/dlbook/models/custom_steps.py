"""What a custom ``train_step`` (the VAE's, the DCGAN's) needs to be right under several replicas and in
mixed precision, where Keras' own step would do it for us.

- Replicas (``strategy=mirrored``): each replica sees its part of the global batch, and the optimizer
  *sums* the replicas' gradients. A replica that averaged its own loss would make the update
  ``replicas`` times too large; :func:`global_mean` divides by the global batch size instead.
- Random draws (the VAE's noise, the DCGAN's latent vectors and label noise): every replica draws the
  values of the whole global batch from the same seed state and keeps its own rows
  (:func:`global_draw`), so that two replicas train exactly as one replica on the same global batches.
- Mixed precision: the loss is scaled inside the tape (``optimizer.scale_loss``; the
  ``LossScaleOptimizer`` unscales the gradients) and computed in float32 (:func:`loss_optimizer`
  wraps an optimizer the model keeps for itself).

TensorFlow only (the steps use ``tf.GradientTape``).
"""

from __future__ import annotations


def replica_rows(local_size):
    """(offset of this replica's rows in the global batch, global batch size); (0, local) on one replica.

    tf.distribute splits a global batch evenly over the replicas, so the global size is the local one times
    the replicas (as Keras' own loss scaling assumes). Only a last, partial batch that does not divide evenly
    is weighted approximately. (No collective op here: gathering the sizes across replicas inside the step
    would race with the gradients' all-reduce.)
    """
    import tensorflow as tf

    local_size = tf.cast(local_size, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), local_size
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return replica * local_size, local_size * context.num_replicas_in_sync


def global_mean(per_example):
    """The mean of ``per_example`` values (one per example of this replica) over the whole global batch:
    this replica's sum divided by the global number of examples. Summed over the replicas (as their
    gradients are) it is the mean over the global batch. Computed in float32."""
    import tensorflow as tf

    per_example = tf.cast(per_example, tf.float32)
    _, global_size = replica_rows(tf.shape(per_example)[0])
    return tf.reduce_sum(per_example) / tf.cast(global_size, tf.float32)


def replica_share(value):
    """``value`` (a :func:`global_mean`) as a metric should see it: the global mean. Keras' Mean metrics sum
    their replicas' states, so each replica reports its share times the number of replicas."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    return value * replicas


def global_draw(draw, local_size, *tail):
    """This replica's rows of ``draw((global_size, *tail))``: a random draw for the whole global batch,
    made identically by every replica (same seed state), so that the replicas' rows together are what one
    replica would draw for the global batch."""
    offset, global_size = replica_rows(local_size)
    values = draw((global_size, *tail))
    return values[offset : offset + local_size]


def loss_optimizer(optimizer):
    """``optimizer`` wrapped in Keras' LossScaleOptimizer under the ``mixed_float16`` policy (as ``compile``
    does for the optimizer it is given), so that small float16 gradients do not underflow to zero."""
    import keras

    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
