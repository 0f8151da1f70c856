"""trainer.mixed_precision=mixed_float16 with the custom training steps of the VAE (8.4) and the DCGAN (8.5).

Run on the CPU (TensorFlow has float16 kernels there too): the same steps on the same batches in float32 and
in mixed_float16 must give losses that fall alike (tolerances below), and saturated outputs on pixels of
exactly 0.0 and 1.0 must never give an infinite or NaN loss.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlbook.models.dcgan import build_discriminator, build_generator, dcgan_class
from dlbook.models.vae import build_vae

STEPS = 12
# mixed_float16 rounds activations and gradients to 11 significant bits: after 12 steps the losses of the
# two runs agree within 2% (the falls themselves are 10-40%).
RELATIVE_TOLERANCE = 0.02


@pytest.fixture
def policy():
    """Set Keras' global dtype policy for one test, and put float32 back afterwards."""

    def use(name: str) -> None:
        keras.mixed_precision.set_global_policy(name)

    yield use
    keras.mixed_precision.set_global_policy("float32")


def _digits(count: int = 32) -> np.ndarray:
    """Black images with a white band (pixels of exactly 0.0 and 1.0, as MNIST has)."""
    images = np.zeros((count, 28, 28, 1), dtype=np.float32)
    for index in range(count):
        row = 2 + 2 * (index % 10)
        images[index, row : row + 3, 4:24] = 1.0
    return images


def _vae_losses(policy, name: str) -> list[float]:
    policy(name)
    keras.utils.set_random_seed(1)
    model = build_vae((28, 28, 1))
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    images = _digits()
    losses = []
    for step in range(STEPS):
        batch = images[(step * 8) % 32 : (step * 8) % 32 + 8]
        losses.append(float(model.train_on_batch(batch, return_dict=True)["loss"]))
    return losses


def test_vae_learns_in_mixed_float16_as_in_float32(policy):
    full = _vae_losses(policy, "float32")
    mixed = _vae_losses(policy, "mixed_float16")
    assert all(np.isfinite(mixed))
    assert full[-1] < 0.9 * full[0]  # it learns
    # ... and as much in mixed precision: an unscaled loss through the LossScaleOptimizer would not move.
    assert mixed[-1] == pytest.approx(full[-1], rel=RELATIVE_TOLERANCE)
    assert mixed[0] == pytest.approx(full[0], rel=RELATIVE_TOLERANCE)


def test_vae_layers_that_touch_the_loss_compute_in_float32(policy):
    policy("mixed_float16")
    model = build_vae((28, 28, 1))
    assert model.encoder.layers[1].compute_dtype == "float16"  # the rest is mixed
    assert [output.dtype for output in model.encoder.outputs] == ["float32", "float32"]
    assert model.decoder.outputs[0].dtype == "float32"


def test_vae_on_saturated_pixels_never_gives_inf_or_nan_in_mixed_float16(policy):
    policy("mixed_float16")
    model = build_vae((28, 28, 1))
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    output = model.decoder.layers[-1]
    kernel, bias = output.get_weights()
    images = _digits(8)
    for saturation in (30.0, -30.0):  # every output pixel 1.0 or 0.0, against pixels of exactly 0.0 and 1.0
        output.set_weights([np.zeros_like(kernel), np.full_like(bias, saturation)])
        total, reconstruction, kl = model.losses_of(images)
        assert np.isfinite(float(total)) and np.isfinite(float(reconstruction)), saturation
        assert np.isfinite(float(model.train_on_batch(images, return_dict=True)["loss"]))


def _tiny_dcgan(latent_dim: int = 8):
    """A DCGAN with the book's training step and small networks (the book's take minutes per step on a CPU),
    with output layers in float32 as build_generator / build_discriminator have them."""
    latent = keras.Input((latent_dim,))
    x = keras.layers.Dense(8 * 8 * 8)(latent)
    x = keras.layers.LeakyReLU(0.3)(keras.layers.Reshape((8, 8, 8))(x))
    x = keras.layers.LeakyReLU(0.3)(keras.layers.Conv2DTranspose(8, 4, strides=4, padding="same")(x))
    image = keras.layers.Conv2D(3, 3, padding="same", activation="tanh", dtype="float32")(x)
    generator = keras.Model(latent, image, name="generator")
    inputs = keras.Input((32, 32, 3))
    y = keras.layers.LeakyReLU(0.3)(keras.layers.Conv2D(8, 4, strides=4)(inputs))
    output = keras.layers.Dense(1, activation="sigmoid", dtype="float32")(keras.layers.Flatten()(y))
    discriminator = keras.Model(inputs, output, name="discriminator")
    model = dcgan_class()(generator, discriminator, seed=3)
    model(keras.ops.zeros((1, latent_dim)))
    model.compile(optimizer="rmsprop")  # the DCGAN trains with its own two optimizers
    return model


def _frogs(count: int = 16) -> np.ndarray:
    images = np.zeros((count, 32, 32, 3), dtype=np.float32)
    for index in range(count):
        images[index, :, (index % 8) * 4 : (index % 8) * 4 + 4, index % 3] = 1.0  # pixels of exactly 1.0
    return images


def _dcgan_losses(policy, name: str) -> list[tuple[float, float]]:
    policy(name)
    keras.utils.set_random_seed(2)
    model = _tiny_dcgan()
    if name == "mixed_float16":
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    images = _frogs()
    losses = []
    for step in range(STEPS):
        logs = model.train_on_batch(images[(step * 4) % 16 : (step * 4) % 16 + 4], return_dict=True)
        losses.append((float(logs["d_loss"]), float(logs["g_loss"])))
    return losses


def test_dcgan_trains_in_mixed_float16_as_in_float32(policy):
    full = _dcgan_losses(policy, "float32")
    mixed = _dcgan_losses(policy, "mixed_float16")
    assert np.all(np.isfinite(mixed))
    assert full[-1][0] < full[0][0]  # the discriminator learns to tell the fakes
    for (full_d, full_g), (mixed_d, mixed_g) in zip(full, mixed, strict=True):
        assert mixed_d == pytest.approx(full_d, rel=RELATIVE_TOLERANCE)
        assert mixed_g == pytest.approx(full_g, rel=RELATIVE_TOLERANCE)


def test_the_books_dcgan_outputs_are_float32_under_mixed_float16(policy):
    policy("mixed_float16")
    generator, discriminator = build_generator(), build_discriminator()
    assert generator.layers[1].compute_dtype == "float16"
    assert generator.outputs[0].dtype == "float32" and discriminator.outputs[0].dtype == "float32"
    # A saturated discriminator on real pixels of exactly 1.0: the float32 output keeps the loss finite.
    model = dcgan_class()(build_generator(latent_dim=4), discriminator)
    last = discriminator.layers[-1]
    kernel, bias = last.get_weights()
    last.set_weights([np.zeros_like(kernel), np.full_like(bias, 30.0)])  # "fake" with probability 1
    real = model.real_images(tf.ones((2, 32, 32, 3)))
    assert np.isfinite(float(model.discriminator_loss(real, training=False)))
