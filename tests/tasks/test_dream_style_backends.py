"""DeepDream's and style transfer's keras.ops losses give TensorFlow's values on JAX and PyTorch.

Each backend runs in a subprocess of its own (Keras fixes its backend at import) on the same arrays; the
losses, DeepDream's gradient normalisation and the gradient of the style-transfer loss with respect to
the image must agree with TensorFlow's within float32 tolerance.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import json
import numpy as np
from keras import ops
from dlbook.models.input_gradients import value_and_gradient
from dlbook.tasks import deep_dream, style_transfer

rng = np.random.default_rng(0)
activations = {"a": rng.normal(size=(1, 7, 9, 4)), "b": rng.normal(size=(1, 6, 6, 2))}
activations = {name: value.astype("float32") for name, value in activations.items()}
style = rng.normal(size=(5, 6, 4)).astype("float32")
combination = rng.normal(size=(5, 6, 4)).astype("float32")
image = rng.normal(size=(1, 7, 8, 3)).astype("float32")
gradient = rng.normal(size=(1, 4, 5, 3)).astype("float32")
painting = rng.normal(size=(7, 8, 3)).astype("float32")

def total(x):
    # Style transfer's three parts as functions of one image (its own pixels standing in for the features).
    parts = {
        "style": style_transfer.style_loss(painting, x[0], 7, 8),
        "content": style_transfer.content_loss(image, x),
        "tv": style_transfer.total_variation_loss(x),
    }
    return parts["style"] + parts["content"] + parts["tv"], parts

loss, image_gradient, parts = value_and_gradient(total)(image * 1.5)
results = {
    "dream_loss": float(deep_dream.dream_loss(activations, {"a": 0.2, "b": 3.0})),
    "normalized_gradient": ops.convert_to_numpy(deep_dream.normalize_gradient(gradient)).ravel().tolist(),
    "gram_matrix": ops.convert_to_numpy(style_transfer.gram_matrix(style)).ravel().tolist(),
    "style_loss": float(style_transfer.style_loss(style, combination, 10, 12)),
    "content_loss": float(style_transfer.content_loss(style, combination)),
    "total_variation_loss": float(style_transfer.total_variation_loss(image)),
    "objective": float(loss),
    "objective_parts": [float(parts[name]) for name in ("style", "content", "tv")],
    "objective_gradient": image_gradient.ravel().tolist(),
}
print(json.dumps(results))
"""


@functools.cache  # TensorFlow's reference is computed once for both comparisons
def _results(backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_losses_and_their_gradient_equal_tensorflows(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    reference, other = _results("tensorflow"), _results(backend)
    assert reference.keys() == other.keys()
    for name, expected in reference.items():
        np.testing.assert_allclose(other[name], expected, rtol=2e-5, atol=1e-6, err_msg=name)
    # Not trivially zero: the gradient of the objective moves every pixel.
    assert np.count_nonzero(reference["objective_gradient"]) == len(reference["objective_gradient"])
