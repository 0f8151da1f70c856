"""What a custom training step (the VAE's loss, the DCGAN's two-optimizer step) needs to be right on every Keras
backend, under several replicas and in mixed precision, where Keras' own step would do it for us.

- Replicas (``strategy=mirrored``, TensorFlow's ``tf.distribute``): each replica sees its part of the global
  batch, and the optimizer *sums* the replicas' gradients. A replica that averaged its own loss would make the
  update ``replicas`` times too large; :func:`global_mean` divides by the global batch size instead.
- Random draws (the VAE's noise, the DCGAN's latent vectors and label noise): every replica draws the
  values of the whole global batch from the same seed state and keeps its own rows
  (:func:`global_draw`), so that two replicas train exactly as one replica on the same global batches.
- Mixed precision: the loss is scaled before its gradient is taken (``optimizer.scale_loss``; the
  ``LossScaleOptimizer`` unscales the gradients) and computed in float32 (:func:`loss_optimizer` wraps an
  optimizer the model keeps for itself).
- Gradients: :func:`descend` takes one optimizer step on some weights, with the backend's own gradient
  (``tf.GradientTape``, ``torch.autograd.grad``, ``jax.value_and_grad``); on JAX, whose trainer is stateless,
  a step runs inside :func:`stateless_step`, which maps the model's variables to the trainer's state.

The replica helpers only do something under ``tf.distribute``: on JAX and PyTorch a batch is one replica's
(JAX's ``DataParallel`` compiles one program over the global batch), so they are plain ``keras.ops``.
TensorFlow is imported only on the TensorFlow backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _on_tensorflow() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def _replica_context():
    """TensorFlow's replica context (None on other backends, or outside a strategy's replica function)."""
    if not _on_tensorflow():
        return None
    import tensorflow as tf

    return tf.distribute.get_replica_context()


def replica_rows(local_size):
    """(offset of this replica's rows in the global batch, global batch size); (0, local) on one replica.

    tf.distribute splits a global batch evenly over the replicas, so the global size is the local one times
    the replicas (as Keras' own loss scaling assumes). Only a last, partial batch that does not divide evenly
    is weighted approximately. (No collective op here: gathering the sizes across replicas inside the step
    would race with the gradients' all-reduce.)
    """
    context = _replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        if _on_tensorflow():
            import tensorflow as tf

            return tf.constant(0, tf.int32), tf.cast(local_size, tf.int32)
        return 0, local_size
    import tensorflow as tf

    local_size = tf.cast(local_size, tf.int32)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return replica * local_size, local_size * context.num_replicas_in_sync


def global_mean(per_example):
    """The mean of ``per_example`` values (one per example of this replica) over the whole global batch:
    this replica's sum divided by the global number of examples. Summed over the replicas (as their
    gradients are) it is the mean over the global batch. Computed in float32."""
    import keras

    per_example = keras.ops.cast(per_example, "float32")
    _, global_size = replica_rows(keras.ops.shape(per_example)[0])
    return keras.ops.sum(per_example) / keras.ops.cast(global_size, "float32")


def replica_share(value):
    """``value`` (a :func:`global_mean`) as a metric should see it: the global mean. Keras' Mean metrics sum
    their replicas' states, so each replica reports its share times the number of replicas."""
    context = _replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    return value * replicas


def global_draw(draw, local_size, *tail):
    """This replica's rows of ``draw((global_size, *tail))``: a random draw for the whole global batch,
    made identically by every replica (same seed state), so that the replicas' rows together are what one
    replica would draw for the global batch."""
    if not _on_tensorflow():
        return draw((local_size, *tail))
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


def descend(model, optimizer, weights, loss: Callable[[], Any]):
    """One step of ``optimizer`` on ``weights`` (a list of the model's variables) down ``loss()``; returns the
    (unscaled, float32) loss, without its gradient.

    The gradient is taken with respect to ``weights`` alone: whatever else ``loss`` runs (the generator that
    makes the discriminator's fakes, the discriminator that judges the generator) is not changed. The loss is
    scaled for the gradient (``optimizer.scale_loss``: a LossScaleOptimizer in mixed precision unscales it).
    On JAX this must run inside :func:`stateless_step`.
    """
    import keras

    steps = {"tensorflow": _tensorflow_descend, "torch": _torch_descend, "jax": _jax_descend}
    name = keras.backend.backend()
    if name not in steps:  # pragma: no cover - Keras has no other backend that computes gradients
        raise NotImplementedError(f"training steps on the {name} backend")
    return keras.ops.stop_gradient(steps[name](model, optimizer, weights, loss))


def _tensorflow_descend(model, optimizer, weights, loss):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss()
        scaled = optimizer.scale_loss(value)
    # Under tf.distribute the optimizer sums the replicas' gradients (see global_mean).
    optimizer.apply(tape.gradient(scaled, weights), weights)
    return value


def _torch_descend(model, optimizer, weights, loss):
    import torch

    value = loss()
    # Only with respect to ``weights``: the other network's weights get no .grad.
    gradients = torch.autograd.grad(optimizer.scale_loss(value), [weight.value for weight in weights])
    with torch.no_grad():
        optimizer.apply(gradients, weights)
    return value


def _jax_descend(model, optimizer, weights, loss):
    value, gradients = _jax_value_and_gradients(model, optimizer, weights, loss)
    # The stateless update: a LossScaleOptimizer's finite-gradient check is a traced branch on JAX.
    new_weights, new_slots = optimizer.stateless_apply(
        [variable.value for variable in optimizer.variables], gradients, [weight.value for weight in weights]
    )
    for variable, new_value in zip([*weights, *optimizer.variables], [*new_weights, *new_slots], strict=True):
        variable.assign(new_value)
    return value


def _state_variables(model) -> list:
    """Every variable a step of ``model`` may read or change (as the JAX trainer's state holds them)."""
    variables = [*model.trainable_variables, *model.non_trainable_variables, *model.metrics_variables]
    if getattr(model, "optimizer", None) is not None:
        variables.extend(model.optimizer.variables)
    return variables


def _jax_value_and_gradients(model, optimizer, weights, loss):
    """(loss, gradients of the scaled loss with respect to ``weights``) with ``jax.value_and_grad``.

    ``loss()`` reads the model's variables and may change some (seed states, metrics): it runs in a stateless
    scope of its own over the current values (those of :func:`stateless_step`'s scope) with ``weights`` as the
    differentiated arguments, and what it changed is written back to the enclosing scope.
    """
    import jax
    import keras

    variables = _state_variables(model)
    current = [variable.value for variable in variables]  # the enclosing scope's values

    def scaled_loss(weight_values):
        mapping = [*zip(variables, current, strict=True), *zip(weights, weight_values, strict=True)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            value = loss()
            scaled = optimizer.scale_loss(value)
        return scaled, (value, [scope.get_current_value(variable) for variable in variables])

    (_, (value, updated)), gradients = jax.value_and_grad(scaled_loss, has_aux=True)(
        [weight.value for weight in weights]
    )
    for variable, new_value in zip(variables, updated, strict=True):
        variable.assign(new_value)
    return value, gradients


def stateless_step(model, step: Callable[[Any], dict], state, data):
    """JAX's ``train_step(state, data)`` / ``test_step(state, data)`` for a ``step(data) -> logs`` written
    with variables: ``step`` runs in a stateless scope mapping the model's variables to ``state`` (the JAX
    trainer's (trainable, non-trainable, optimizer, metrics) values, without the optimizer's in a test step),
    and returns (logs, the new state)."""
    import keras

    groups = [model.trainable_variables, model.non_trainable_variables]
    if len(state) == 4:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    if len(state) != len(groups):
        raise ValueError(f"a JAX training state of {len(groups)} parts was expected, got {len(state)}")
    mapping = []
    for variables, values in zip(groups, state, strict=True):
        mapping.extend(zip(variables, values, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = tuple([_current(scope, variable) for variable in variables] for variables in groups)
    return logs, new_state


def _current(scope, variable):
    value = scope.get_current_value(variable)
    return variable.value if value is None else value
