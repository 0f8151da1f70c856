"""The DCGAN of book 8.5: sizes, label convention, which weights each half of a step changes, the image grid."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError
from dlbook.models.dcgan import build_dcgan, build_discriminator, build_generator, dcgan_class, image_grid


def _weights(model) -> list[np.ndarray]:
    return [np.array(weight) for weight in model.get_weights()]


def _changed(before, after) -> bool:
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def _real_batch(count: int = 4) -> np.ndarray:
    return np.random.RandomState(0).rand(count, 32, 32, 3).astype(np.float32)


def _tiny_dcgan(**options):
    """A DCGAN whose generator makes all-ones images and whose discriminator says "fake" for bright images.

    The discriminator is sigmoid(10 * mean pixel): ~1 (fake) for the generator's images, ~0 (real) for
    real images of 0 (mapped to -1 by real_range=tanh).
    """
    latent = keras.Input((2,))
    flat = keras.layers.Dense(32 * 32 * 3, kernel_initializer="zeros", bias_initializer="ones")(latent)
    generator = keras.Model(latent, keras.layers.Reshape((32, 32, 3))(flat))
    image = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(image)
    probability = keras.layers.Dense(1, "sigmoid", kernel_initializer=keras.initializers.Constant(10.0 / 3))(pooled)
    discriminator = keras.Model(image, probability)
    return dcgan_class()(generator, discriminator, **options)


def test_has_the_books_parameter_counts():
    assert build_generator().count_params() == 6_264_579
    assert build_discriminator().count_params() == 790_913
    model = build_dcgan((32, 32, 3))
    assert model.latent_dim == 32 and model.real_range == "tanh"
    assert model.count_params() == 6_264_579 + 790_913
    with pytest.raises(ConfigError, match="32x32"):
        build_dcgan((28, 28, 1))
    with pytest.raises(ConfigError, match="real_range"):
        build_dcgan(real_range="unit")


def test_label_convention_fake_is_one_real_is_zero():
    model = _tiny_dcgan(label_noise=0.0)
    real = model.real_images(np.zeros((4, 32, 32, 3), dtype=np.float32))  # all -1
    # The discriminator is right (generated -> 1, real -> 0): a near-zero discriminator loss.
    assert float(model.discriminator_loss(real, training=False)) < 1e-3
    # The generator is judged by how "real" (0) its images look: these look fake, a large loss.
    assert float(model.generator_loss(4, training=False)) > 5.0


def test_real_range_options():
    images = np.array([[[[0.0, 0.5, 1.0]]]], dtype=np.float32)
    tanh, book = _tiny_dcgan(real_range="tanh"), _tiny_dcgan(real_range="book")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tanh.real_images(images)).ravel(), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(book.real_images(images)).ravel(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tanh.display_images(np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_half_of_a_step_changes_only_its_own_network(frozen):
    # With one half's learning rate 0, that network must not move; the other half must move only its own.
    rates = {"d_learning_rate": 8e-4, "g_learning_rate": 4e-4, f"{frozen[0]}_learning_rate": 0.0}
    model = build_dcgan((32, 32, 3), **rates)
    model.compile(optimizer="rmsprop", loss=None, metrics=[])
    generator, discriminator = _weights(model.generator), _weights(model.discriminator)
    logs = model.train_on_batch(_real_batch(), np.zeros(4), return_dict=True)
    assert {"d_loss", "g_loss", "loss"} <= set(logs) and logs["loss"] == logs["g_loss"]
    assert _changed(generator, _weights(model.generator)) == (frozen != "generator")
    assert _changed(discriminator, _weights(model.discriminator)) == (frozen != "discriminator")
    # Each optimizer stepped once, the compiled (unused) optimizer never.
    assert int(model.d_optimizer.iterations) == 1 and int(model.g_optimizer.iterations) == 1


def test_reloads_in_safe_mode(tmp_path):
    model = _tiny_dcgan(real_range="book", label_noise=0.1)
    model.compile(optimizer="rmsprop", loss=None)
    model.train_on_batch(_real_batch(), np.zeros(4))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert reloaded.real_range == "book" and reloaded.label_noise == pytest.approx(0.1)
    latent = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_allclose(reloaded.predict(latent, verbose=0), model.predict(latent, verbose=0))


def test_image_grid_saves_generated_and_real_images(tmp_path):
    model = _tiny_dcgan()
    model.compile(optimizer="rmsprop", loss=None)
    real = _real_batch(6)
    callback = image_grid(str(tmp_path / "samples"), every_steps=2, samples=6, columns=3, log_dir=str(tmp_path / "tb"))
    callback.set_data(DataSplits(Examples(real, np.zeros(6)), Examples(real, np.zeros(6)), (32, 32, 3), "test"))
    model.fit(real, np.zeros(6), batch_size=2, epochs=1, verbose=0, callbacks=[callback])
    saved = sorted(path.name for path in (tmp_path / "samples").iterdir())
    assert saved == ["real.png", "step_00002.png", "step_00003.png"]  # every 2 steps, and the last one
    with Image.open(tmp_path / "samples" / "step_00003.png") as picture:
        assert picture.size == (3 * 32, 2 * 32)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(ConfigError, match="every_steps"):
        image_grid("unused", every_steps=0)
