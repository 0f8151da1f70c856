"""Book 5.4a: activation grids (16 channels per row, z-score x64 +128) of a convnet's first layers."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.errors import ConfigError
from dlbook.visualization.activations import (
    activation_grid,
    channel_image,
    find_layer,
    first_layers,
    visualize_activations,
)
from dlbook.visualization.images import fit_image, input_shape, load_image, preprocess, save_png, tile_grid


def mnist_convnet():
    """The book's 5.1 MNIST convnet (shapes only; untrained)."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv2d"),
            keras.layers.MaxPooling2D(2, name="max_pooling2d"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
            keras.layers.MaxPooling2D(2, name="max_pooling2d_1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2d_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense"),
            keras.layers.Dense(10, activation="softmax", name="dense_1"),
        ]
    )


def test_channel_image_is_the_books_post_processing():
    channel = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    z = (channel - channel.mean()) / channel.std()
    expected = np.clip(z * 64 + 128, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(channel_image(channel), expected)
    # A dead channel (all zero after ReLU) is shown black instead of dividing by zero.
    assert channel_image(np.zeros((3, 3))).max() == 0


@pytest.mark.parametrize(
    ("channels", "per_row", "shape"),
    [(32, 16, (2 * 7, 16 * 7)), (64, 16, (4 * 7, 16 * 7)), (8, 16, (7, 8 * 7)), (20, 16, (2 * 7, 16 * 7))],
)
def test_activation_grid_size(channels, per_row, shape):
    activation = np.random.default_rng(0).random((7, 7, channels)).astype(np.float32)
    grid = activation_grid(activation, per_row)
    assert grid.shape == shape and grid.dtype == np.uint8
    # The first tile is the first channel; the places after the last channel stay black.
    np.testing.assert_array_equal(grid[:7, :7], channel_image(activation[..., 0]))
    if channels > per_row and channels % per_row:
        assert grid[-7:, -7:].max() == 0


def test_tile_grid_with_margin():
    tiles = np.full((5, 4, 6), 200, dtype=np.uint8)
    grid = tile_grid(tiles, columns=3, margin=2)
    assert grid.shape == (2 * 4 + 2, 3 * 6 + 2 * 2)
    assert grid[4:6].max() == 0 and grid[:, 6:8].max() == 0  # the margins are black


def test_activations_of_the_books_mnist_convnet(tmp_path):
    model = mnist_convnet()
    photo = load_image(None)
    batch = preprocess(fit_image(photo, *input_shape(model))[None], "rescale", "image_preprocess")
    assert batch.shape == (1, 28, 28, 1) and 0 <= batch.min() and batch.max() <= 1
    grids = visualize_activations(model, batch, layers=8, images_per_row=16)
    # Flatten and the Dense layers among the first 8 layers have no feature maps: skipped.
    assert {name: grid.shape for name, grid in grids.items()} == {
        "conv2d": (2 * 26, 16 * 26),
        "max_pooling2d": (2 * 13, 16 * 13),
        "conv2d_1": (4 * 11, 16 * 11),
        "max_pooling2d_1": (4 * 5, 16 * 5),
        "conv2d_2": (4 * 3, 16 * 3),
    }
    path = save_png(grids["conv2d"], tmp_path / "conv2d.png")
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (16 * 26, 2 * 26)
    assert path.stat().st_size > 500


def test_activations_of_vgg16_first_layers():
    import keras

    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    batch = preprocess(fit_image(load_image(None), 32, 32, 3)[None], "vgg16", "image_preprocess")
    grids = visualize_activations(model, batch, layers=3, images_per_row=16)
    assert {name: grid.shape for name, grid in grids.items()} == {
        "block1_conv1": (4 * 32, 16 * 32),
        "block1_conv2": (4 * 32, 16 * 32),
        "block1_pool": (4 * 16, 16 * 16),
    }
    assert all(grid.std() > 0 for grid in grids.values())  # a picture, not a blank


def test_layer_errors_name_the_key_and_valid_layers():
    model = mnist_convnet()
    with pytest.raises(ConfigError, match=r"gradcam.layer=nope .*conv2d, conv2d_1, conv2d_2"):
        find_layer(model, "nope", "gradcam.layer")
    with pytest.raises(ConfigError, match="activations.layers=0"):
        first_layers(model, 0)
    with pytest.raises(ConfigError, match="activations.images_per_row=0"):
        activation_grid(np.zeros((3, 3, 4)), 0)


def test_fit_image_resizes_and_converts():
    photo = load_image(None)
    assert photo.shape == (300, 451, 3) and photo.dtype == np.uint8  # the bundled cat, offline
    assert fit_image(photo, 150, 150, 3).shape == (150, 150, 3)
    assert fit_image(photo, 28, 28, 1).shape == (28, 28, 1)
    assert fit_image(photo, None, None, 3).shape == (300, 451, 3)  # a model taking any size keeps the photo's
