"""The VAE of book 8.4: its size, sampling options, its own training step, saving, and the latent grid."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from dlbook.errors import ConfigError
from dlbook.models.vae import build_vae, latent_grid, latent_grid_image


@pytest.fixture(scope="module")
def vae():
    return build_vae((28, 28, 1))


def _digits(count: int = 16) -> np.ndarray:
    """Dark images with one bright band whose row depends on the index: something to reconstruct."""
    images = np.zeros((count, 28, 28, 1), dtype=np.float32)
    for index in range(count):
        row = 2 + 2 * (index % 10)
        images[index, row : row + 3, 4:24] = 1.0
    return images


def test_has_the_books_parameter_count(vae):
    assert vae.count_params() == 550_629
    assert vae.encoder.count_params() == 494_244 and vae.decoder.count_params() == 56_385
    assert vae.latent_dim == 2 and vae.sampling == "correct"


def test_sampling_options():
    z_mean = keras.ops.zeros((20_000, 2))
    z_log_var = keras.ops.full((20_000, 2), 1.0)
    correct = build_vae((28, 28, 1), sampling="correct")
    book = build_vae((28, 28, 1), sampling="book")
    # exp(0.5 * log_var) is the standard deviation of N(mean, exp(log_var)); the book used exp(log_var).
    assert np.std(keras.ops.convert_to_numpy(correct.sample(z_mean, z_log_var))) == pytest.approx(np.exp(0.5), rel=0.05)
    assert np.std(keras.ops.convert_to_numpy(book.sample(z_mean, z_log_var))) == pytest.approx(np.exp(1.0), rel=0.05)
    with pytest.raises(ConfigError, match="sampling"):
        build_vae((28, 28, 1), sampling="exact")
    with pytest.raises(ConfigError, match="even height"):
        build_vae((784,))


def test_train_step_lowers_the_books_loss_and_ignores_labels():
    keras.utils.set_random_seed(0)  # the initial weights must not depend on which tests ran before
    model = build_vae((28, 28, 1))
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=None, metrics=[])
    images, labels = _digits(), np.arange(16)
    first = model.train_on_batch(images, labels, return_dict=True)
    for _ in range(15):
        last = model.train_on_batch(images, labels, return_dict=True)
    assert set(first) == {"loss", "reconstruction_loss", "kl_loss"}
    assert last["loss"] < first["loss"] - 0.05
    assert last["loss"] == pytest.approx(last["reconstruction_loss"] + last["kl_loss"], rel=1e-5)
    evaluated = model.evaluate(images, labels, return_dict=True, verbose=0)
    assert evaluated["loss"] < first["loss"]


def test_reloads_in_safe_mode(vae, tmp_path):
    vae.compile(optimizer="rmsprop", loss=None)
    vae.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert reloaded.sampling == "correct" and reloaded.count_params() == 550_629
    latent = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_allclose(reloaded.decoder.predict(latent, verbose=0), vae.decoder.predict(latent, verbose=0))


def test_latent_grid_writes_the_books_figure(vae, tmp_path):
    callback = latent_grid(str(tmp_path), log_dir=str(tmp_path / "tensorboard"))
    callback.set_model(vae)
    callback.on_train_end()
    with Image.open(tmp_path / "latent_grid.png") as picture:
        assert picture.size == (420, 420) and picture.mode == "L"
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    figure = latent_grid_image(vae.decoder, size=3)
    assert figure.shape == (84, 84) and 0.0 <= figure.min() <= figure.max() <= 1.0
    with pytest.raises(ConfigError, match="digit_size"):
        latent_grid_image(vae.decoder, size=3, digit_size=32)
