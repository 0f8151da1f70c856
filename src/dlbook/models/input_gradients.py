"""The gradient of a scalar function with respect to its input array, on the backend Keras runs on.

DeepDream, style transfer, filter visualisation and Grad-CAM all ascend or read the gradient of a loss
with respect to an image (or a feature map), not with respect to weights. Each backend computes it its
own way (TensorFlow: ``tf.GradientTape``; JAX: ``jax.value_and_grad``; PyTorch: ``torch.autograd.grad``);
:func:`value_and_gradient` is the one place that knows how, so the callers are written in ``keras.ops``.

The function is ``function(x) -> (value, aux)``: ``value`` a scalar tensor, ``aux`` any nest of tensors to
return beside it (feature maps, loss parts, one loss per image). The result is a callable
``x -> (value, gradient, aux)`` whose outputs are NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def value_and_gradient(function: Callable[[Any], tuple[Any, Any]], *, compile: bool = True):
    """``x -> (value, d value / d x, aux)`` for ``function(x) -> (value, aux)``, as NumPy arrays.

    ``compile`` traces the computation once per input shape (``tf.function`` / ``jax.jit``); PyTorch runs
    it eagerly. ``x`` is a float32 NumPy array (or anything ``np.asarray`` takes).
    """
    import keras

    name = keras.backend.backend()
    if name == "tensorflow":
        compute = _tensorflow(function, compile)
    elif name == "jax":
        compute = _jax(function, compile)
    elif name == "torch":
        compute = _torch(function)
    else:  # pragma: no cover - Keras has no other backend that computes gradients
        raise NotImplementedError(f"gradients on the {name} backend")

    def call(x):
        value, gradient, aux = compute(np.asarray(x, dtype=np.float32))
        return _numpy(value), _numpy(gradient), keras.tree.map_structure(_numpy, aux)

    return call


def _numpy(value) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def _tensorflow(function, compile: bool):
    import tensorflow as tf

    def compute(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = function(x)
        return value, tape.gradient(value, x), aux

    # reduce_retracing: inputs of new sizes (DeepDream's octaves) share one trace with unknown dimensions.
    traced = tf.function(compute, reduce_retracing=True) if compile else compute
    return lambda x: traced(tf.constant(x))


def _jax(function, compile: bool):
    import jax

    compute = jax.value_and_grad(function, has_aux=True)
    if compile:
        compute = jax.jit(compute)

    def call(x):
        (value, aux), gradient = compute(jax.numpy.asarray(x))
        return value, gradient, aux

    return call


def _torch(function):
    import torch

    def call(x):
        import keras

        tensor = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
        value, aux = function(tensor)
        # Only with respect to the input: the model's weights get no .grad.
        (gradient,) = torch.autograd.grad(value, tensor)
        return value.detach(), gradient, keras.tree.map_structure(lambda t: t.detach(), aux)

    return call
