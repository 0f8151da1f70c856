"""DeepDream's and style transfer's keras.ops losses and steps give TensorFlow's values on JAX and PyTorch.

Each backend runs in a subprocess of its own (Keras fixes its backend at import) on the same arrays and
the same network weights; the losses, DeepDream's gradient normalisation, the gradient of a
style-transfer objective with respect to the image, three DeepDream ascent steps through InceptionV3 and
the style-transfer loss and gradient through VGG19 must agree with TensorFlow's within float32 tolerance.
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

# The tasks' own steps on the same networks: TensorFlow writes the (random) weights, the others load them.
import sys
import keras

folder = sys.argv[1]
inception = deep_dream.layer_outputs(deep_dream.build_base("InceptionV3", None), list(deep_dream.BOOK_LAYERS), "l")
vgg = deep_dream.layer_outputs(deep_dream.build_base("VGG19", None), ["block1_conv1", "block2_conv2"], "l")
for name, model in (("inception", inception), ("vgg", vgg)):
    path = f"{folder}/{name}.weights.h5"
    model.save_weights(path) if keras.backend.backend() == "tensorflow" else model.load_weights(path)
dream = rng.uniform(-1, 1, size=(1, 80, 80, 3)).astype("float32")
dreamt, losses = deep_dream.gradient_ascent(
    deep_dream.loss_and_gradient(inception, deep_dream.BOOK_LAYERS), dream, iterations=3, step=0.05, max_loss=None
)
content, painting = (rng.uniform(-100, 100, size=(1, 16, 24, 3)).astype("float32") for _ in range(2))
evaluate = style_transfer.StyleLoss(
    vgg, content, painting, content_layer="block2_conv2", style_layers=["block1_conv1", "block2_conv2"],
    weights={"content": 0.025, "style": 1.0, "total_variation": 1e-4},
)
style_value, style_gradient = evaluate(content.ravel() + 1.0)
results["dream_losses"] = losses
results["dreamt_image"] = dreamt.ravel()[::97].tolist()
results["style_transfer_loss"] = style_value
results["style_transfer_gradient"] = (style_gradient / np.abs(style_gradient).max()).ravel()[::7].tolist()
print(json.dumps(results))
"""


# Through a whole network float32 sums differ more across backends' kernels. The dreamt image moved by
# about 0.15 (3 steps of 0.05 times a gradient of mean magnitude 1): 0.01 is a few percent of that.
TOLERANCES = {
    "dream_losses": {"rtol": 1e-4},
    "dreamt_image": {"rtol": 0, "atol": 1e-2},
    "style_transfer_loss": {"rtol": 1e-4},
    "style_transfer_gradient": {"rtol": 0, "atol": 1e-3},  # a fraction of its largest value
}


@functools.cache  # TensorFlow's reference (and the weights it writes) is computed once for both comparisons
def _results(backend: str, folder: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-c", SCRIPT, folder]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def weights_folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("weights"))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_losses_and_their_gradient_equal_tensorflows(backend, weights_folder):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    reference, other = _results("tensorflow", weights_folder), _results(backend, weights_folder)
    assert reference.keys() == other.keys()
    for name, expected in reference.items():
        tolerance = TOLERANCES.get(name, {"rtol": 2e-5, "atol": 1e-6})
        np.testing.assert_allclose(other[name], expected, **tolerance, err_msg=name)
    # Not trivially zero: the gradient of the objective moves every pixel; the dream climbs.
    assert np.count_nonzero(reference["objective_gradient"]) == len(reference["objective_gradient"])
    assert reference["dream_losses"][0] < reference["dream_losses"][1] < reference["dream_losses"][2]
