"""Book 5.4b: filter patterns by gradient ascent in input space, laid out in grids with a margin."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.errors import ConfigError
from dlbook.visualization import filters
from dlbook.visualization.filters import deprocess_image, filter_grid, generate_patterns, visualize_filters


def small_convnet(input_shape=(None, None, 3)):
    """A tiny cats-vs-dogs-like convnet (untrained) that accepts any image size."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(2, name="pool_a"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
        ]
    )


@pytest.fixture(scope="module")
def vgg16():
    import keras

    return keras.applications.VGG16(weights=None, include_top=False)


def test_deprocess_image_is_the_books():
    image = np.random.default_rng(0).normal(130, 40, (16, 16, 3))
    x = (image - image.mean()) / (image.std() + 1e-5) * 0.1 + 0.5
    expected = (np.clip(x, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(deprocess_image(image), expected)


def test_the_books_grid_of_64_patterns_is_547_pixels_square():
    patterns = np.full((64, 64, 64, 3), 255, dtype=np.uint8)
    grid = filter_grid(patterns, margin=5)
    assert grid.shape == (8 * 64 + 7 * 5, 8 * 64 + 7 * 5, 3)
    assert grid[64:69].max() == 0  # black margins between rows


def test_gradient_ascent_raises_each_filters_mean_activation():
    model = small_convnet()
    patterns, losses = generate_patterns(model, "conv_b", list(range(16)), size=24, steps=10, step_size=1.0)
    assert patterns.shape == (16, 24, 24, 3) and patterns.dtype == np.uint8
    assert losses.shape == (11, 16)
    active = losses[0] > 0
    assert active.sum() >= 4  # most filters respond to the gray start image
    assert np.all(losses[-1][active] > losses[0][active])
    assert np.all(losses[-1] >= losses[0] - 1e-6)  # a dead filter (zero gradient) stays where it is


def test_batched_ascent_equals_one_filter_at_a_time(monkeypatch):
    model = small_convnet()
    together, together_losses = generate_patterns(model, "conv_a", [0, 3, 5], size=16, steps=4, seed=3)
    # One image per batch: the book's loop, filter after filter.
    monkeypatch.setattr(filters, "PIXELS_PER_BATCH", 1)
    alone, alone_losses = generate_patterns(model, "conv_a", [0, 3, 5], size=16, steps=4, seed=3)
    np.testing.assert_allclose(together_losses, alone_losses, rtol=1e-4, atol=1e-4)
    assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1


def test_vgg16_filter_grids(vgg16):
    grids, losses = visualize_filters(
        vgg16, ["block1_conv1", "block3_conv1"], count=2, size=32, steps=3, step_size=1.0, margin=5
    )
    assert list(grids) == ["block1_conv1", "block3_conv1"]
    for grid in grids.values():
        assert grid.shape == (32, 2 * 32 + 5, 3) and grid.dtype == np.uint8
        assert grid.std() > 0
    assert all(loss.shape == (4, 2) for loss in losses.values())


def test_a_model_with_a_fixed_input_size_makes_patterns_of_that_size():
    model = small_convnet((20, 20, 1))  # gray images, e.g. MNIST-like
    grids, _ = visualize_filters(model, ["conv_a"], count=4, size=64, steps=2, margin=3)
    assert grids["conv_a"].shape == (2 * 20 + 3, 2 * 20 + 3, 1)


def test_filter_errors_name_the_key(vgg16):
    with pytest.raises(ConfigError, match=r"filters.layers=conv9 .*block1_conv1, block1_conv2"):
        visualize_filters(vgg16, ["conv9"], count=1, size=8, steps=1)
    with pytest.raises(ConfigError, match="filters.count=0"):
        visualize_filters(vgg16, ["block1_conv1"], count=0)


def test_a_layer_without_feature_maps_has_no_filter_patterns():
    import keras

    model = small_convnet((12, 12, 3))
    model = keras.Sequential([keras.Input((12, 12, 3)), *model.layers, keras.layers.Flatten(name="flat")])
    with pytest.raises(ConfigError, match="filters.layers=flat .*no filters"):
        visualize_filters(model, ["flat"], count=1, size=8, steps=1)
