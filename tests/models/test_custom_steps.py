"""The custom training steps (the VAE's loss, the DCGAN's two-optimizer step) on every installed backend.

A few steps on fixed batches in a subprocess per backend: the VAE's loss falls as on TensorFlow and its
logged parts add up, the DCGAN's discriminator learns to tell the fakes, ``fit`` (JAX's jitted, stateless
loop) moves both networks and both optimizers, and the same seed gives the same losses twice.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

STEPS = 12  # as in the script
SCRIPT = r"""
import json
import keras
import numpy as np
from dlbook.models.dcgan import dcgan_class
from dlbook.models.vae import build_vae

STEPS = 12


def digits(count):
    images = np.zeros((count, 28, 28, 1), dtype=np.float32)
    for index in range(count):
        row = 2 + 2 * (index % 10)
        images[index, row : row + 3, 4:24] = 1.0
    return images


def frogs(count):
    images = np.zeros((count, 32, 32, 3), dtype=np.float32)
    for index in range(count):
        images[index, :, (index % 8) * 4 : (index % 8) * 4 + 4, index % 3] = 1.0
    return images


def vae_run():
    keras.utils.set_random_seed(0)
    model = build_vae((28, 28, 1))
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=None, metrics=[])
    images, labels = digits(16), np.arange(16)
    logs = [model.train_on_batch(images, labels, return_dict=True) for _ in range(STEPS)]
    evaluated = model.evaluate(images, labels, return_dict=True, verbose=0)
    return {
        "keys": sorted(logs[0]),
        "losses": [float(log["loss"]) for log in logs],
        "parts": [float(logs[-1]["reconstruction_loss"]), float(logs[-1]["kl_loss"])],
        "evaluated": float(evaluated["loss"]),
    }


def tiny_dcgan():
    latent = keras.Input((8,))
    x = keras.layers.Reshape((8, 8, 8))(keras.layers.Dense(8 * 8 * 8)(latent))
    x = keras.layers.LeakyReLU(0.3)(keras.layers.Conv2DTranspose(8, 4, strides=4, padding="same")(x))
    generator = keras.Model(latent, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x))
    inputs = keras.Input((32, 32, 3))
    y = keras.layers.Flatten()(keras.layers.LeakyReLU(0.3)(keras.layers.Conv2D(8, 4, strides=4)(inputs)))
    y = keras.layers.Dropout(0.4)(y)
    discriminator = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(y))
    model = dcgan_class()(generator, discriminator, seed=3)
    model(keras.ops.zeros((1, 8)))
    model.compile(optimizer="rmsprop", loss=None, metrics=[])
    return model


def dcgan_run():
    keras.utils.set_random_seed(2)
    model = tiny_dcgan()
    images = frogs(16)
    steps = []
    for step in range(STEPS):
        logs = model.train_on_batch(images[(step * 4) % 16 : (step * 4) % 16 + 4], return_dict=True)
        steps.append([float(logs["d_loss"]), float(logs["g_loss"])])
    generator = [np.array(w) for w in model.generator.get_weights()]
    discriminator = [np.array(w) for w in model.discriminator.get_weights()]
    history = model.fit(images, np.zeros(16), batch_size=4, epochs=1, verbose=0, shuffle=False).history
    moved = lambda before, after: max(float(np.max(np.abs(a - b))) for a, b in zip(before, after))
    return {
        "steps": steps,
        "fit": {key: float(values[-1]) for key, values in history.items()},
        "generator_moved": moved(generator, model.generator.get_weights()),
        "discriminator_moved": moved(discriminator, model.discriminator.get_weights()),
        "iterations": [int(model.d_optimizer.iterations), int(model.g_optimizer.iterations)],
    }

"""
RUNS = (
    SCRIPT
    + """
print(json.dumps({"vae": [vae_run(), vae_run()], "dcgan": [dcgan_run(), dcgan_run()]}))
"""
)
# The DCGAN's step with its two LossScaleOptimizers (on JAX a stateless update) in mixed_float16 and float32.
MIXED = (
    SCRIPT
    + """
def dcgan_losses(policy):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(2)
    model = tiny_dcgan()
    scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer) for o in (model.d_optimizer, model.g_optimizer)]
    images = frogs(16)
    losses = []
    for step in range(6):
        logs = model.train_on_batch(images[(step * 4) % 16 : (step * 4) % 16 + 4], return_dict=True)
        losses.append([float(logs["d_loss"]), float(logs["g_loss"])])
    return {"scaled": scaled, "losses": losses}


print(json.dumps({"float32": dcgan_losses("float32"), "mixed_float16": dcgan_losses("mixed_float16")}))
"""
)


def _run(script: str, backend: str) -> dict:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["tensorflow", "jax", "torch"])
def runs(request):
    return _run(RUNS, request.param)


def test_vae_loss_falls_and_its_logged_parts_add_up(runs):
    run = runs["vae"][0]
    assert run["keys"] == ["kl_loss", "loss", "reconstruction_loss"]
    losses = run["losses"]
    assert all(map(math.isfinite, losses)) and losses[-1] < losses[0] - 0.05, losses
    assert losses[-1] == pytest.approx(sum(run["parts"]), rel=1e-5)
    assert run["evaluated"] < losses[0]


def test_dcgan_discriminator_learns_and_fit_trains_both_networks(runs):
    run = runs["dcgan"][0]
    first, last = run["steps"][0], run["steps"][-1]
    assert last[0] < first[0], run["steps"]  # the discriminator learns to tell the fakes
    assert set(run["fit"]) >= {"d_loss", "g_loss", "loss"}
    assert run["generator_moved"] > 0 and run["discriminator_moved"] > 0
    # Each of the model's two optimizers stepped once per batch: 12 train_on_batch + 4 fit steps.
    assert run["iterations"] == [STEPS + 4, STEPS + 4]


def test_same_seed_same_losses(runs):
    assert runs["vae"][0] == runs["vae"][1]
    assert runs["dcgan"][0] == runs["dcgan"][1]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_dcgan_trains_in_mixed_float16_as_in_float32(backend):
    # As tests/models/test_mixed_precision.py checks on TensorFlow: within 2% step by step.
    result = _run(MIXED, backend)
    assert result["mixed_float16"]["scaled"] == [True, True] and result["float32"]["scaled"] == [False, False]
    for full, mixed in zip(result["float32"]["losses"], result["mixed_float16"]["losses"], strict=True):
        assert all(map(math.isfinite, mixed))
        assert mixed == pytest.approx(full, rel=0.02)
