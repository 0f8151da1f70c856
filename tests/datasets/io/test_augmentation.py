"""The book's ImageDataGenerator transform as one layer: same matrix, one resampling, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from dlbook.datasets.io.augmentation import book_augmentation

BOOK = dict(
    rotation_range=40,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.2,
    zoom_range=0.2,
    horizontal_flip=True,
)


def book_matrix(theta_degrees, shift_rows, shift_cols, shear, zoom_rows, zoom_cols, height, width):
    """Keras 2.0.8 ImageDataGenerator.random_transform's matrix for given draws (rows, cols, 1)."""
    theta = np.deg2rad(theta_degrees)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    shift = np.array([[1, 0, shift_rows], [0, 1, shift_cols], [0, 0, 1]])
    shearing = np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
    zoom = np.array([[zoom_rows, 0, 0], [0, zoom_cols, 0], [0, 0, 1]])
    matrix = rotation @ shift @ shearing @ zoom
    center_row, center_col = height / 2 + 0.5, width / 2 + 0.5
    offset = np.array([[1, 0, center_row], [0, 1, center_col], [0, 0, 1]])
    reset = np.array([[1, 0, -center_row], [0, 1, -center_col], [0, 0, 1]])
    return offset @ matrix @ reset


def test_transform_equals_the_books_matrix():
    layer = book_augmentation(**BOOK)
    uniforms = np.array([[0.9, 0.2, 0.7, 0.4, 0.1, 0.8, 0.0]], dtype=np.float32)
    height, width = 150.0, 120.0
    transform = np.asarray(layer.transforms(uniforms, height, width))[0]
    expected = book_matrix(
        theta_degrees=-40 + 80 * 0.9,
        shift_rows=(-0.2 + 0.4 * 0.2) * height,
        shift_cols=(-0.2 + 0.4 * 0.7) * width,
        shear=-0.2 + 0.4 * 0.4,
        zoom_rows=0.8 + 0.4 * 0.1,
        zoom_cols=0.8 + 0.4 * 0.8,
        height=height,
        width=width,
    )
    # (x = column, y = row): x' = T[1,1] x + T[1,0] y + T[1,2]; y' = T[0,1] x + T[0,0] y + T[0,2].
    np.testing.assert_allclose(
        transform,
        [expected[1, 1], expected[1, 0], expected[1, 2], expected[0, 1], expected[0, 0], expected[0, 2], 0, 0],
        rtol=1e-5,
        atol=1e-3,
    )


def test_no_ranges_is_the_identity_and_inference_leaves_images_alone():
    images = np.random.default_rng(0).random((3, 20, 24, 3), dtype=np.float32) * 255
    np.testing.assert_array_equal(np.asarray(book_augmentation()(images, training=True)), images)
    np.testing.assert_array_equal(np.asarray(book_augmentation(**BOOK)(images, training=False)), images)


def test_augmentation_changes_images_and_keeps_their_shape_and_range():
    images = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32) * 255
    augmented = np.asarray(book_augmentation(**BOOK, seed=1)(images, training=True))
    assert augmented.shape == images.shape
    assert not np.array_equal(augmented, images)
    assert augmented.min() >= 0 and augmented.max() <= 255  # nearest resampling and filling invent no values


def test_stateless_draws_repeat_for_the_same_seed():
    layer = book_augmentation(**BOOK)
    images = tf.random.uniform((4, 16, 16, 3), seed=0) * 255
    first = layer.call_stateless(images, tf.constant([3, 4], tf.int64))
    again = layer.call_stateless(images, tf.constant([3, 4], tf.int64))
    other = layer.call_stateless(images, tf.constant([3, 5], tf.int64))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_pure_shift_moves_pixels_by_the_drawn_amount():
    layer = book_augmentation(height_shift_range=0.25)
    image = np.zeros((1, 8, 8, 1), dtype=np.float32)
    image[0, 4, 4, 0] = 1.0
    # Draw 1.0 for the row shift: +0.25 * 8 = 2 rows; the input pixel (row + 2) shows at the output row.
    uniforms = np.array([[0.5, 1.0, 0.5, 0.5, 0.5, 0.5, 0.9]], dtype=np.float32)
    moved = np.asarray(layer.augment(image, uniforms))
    assert moved[0, 2, 4, 0] == pytest.approx(1.0)
    assert moved.sum() == pytest.approx(1.0)
