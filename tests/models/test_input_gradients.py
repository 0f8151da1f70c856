"""The input-gradient helper gives the same gradients on every installed backend."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

# y = sum(x^2) + Dense(1, weights w)(x): d y / d x = 2x + w; aux returns the model's output.
SCRIPT = r"""
import json, sys
import numpy as np
import keras
from dlbook.models.input_gradients import value_and_gradient

layer = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(0.5))
model = keras.Sequential([keras.Input((3,)), layer])
def function(x):
    output = model(x)
    return keras.ops.sum(x * x) + keras.ops.sum(output), {"output": output}
x = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
results = {}
for compiled in (True, False):
    value, gradient, aux = value_and_gradient(function, compile=compiled)(x)
    results[str(compiled)] = [float(value), gradient[0].tolist(), aux["output"][0].tolist()]
print(json.dumps(results))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_gradient_of_a_function_of_the_input(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    for compiled, (value, gradient, output) in outputs.items():
        # 1 + 4 + 9 = 14, plus 0.5 * (1 - 2 + 3) = 1
        assert value == pytest.approx(15.0), compiled
        assert gradient == pytest.approx([2.5, -3.5, 6.5]), compiled
        assert output == pytest.approx([1.0]), compiled
