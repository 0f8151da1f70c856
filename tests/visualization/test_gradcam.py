"""Book 5.4c: Grad-CAM heatmaps, their overlay on the photo, and the printed top predictions."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import residual_convnet

from dlbook.errors import ConfigError
from dlbook.visualization.gradcam import (
    default_layer,
    describe_predictions,
    gradcam_heatmap,
    heatmap_image,
    overlay_heatmap,
)


def square_images(rng, count):
    """Noise images (32x32x3, values 0-0.5); label 1 images hold a white 8x8 square somewhere."""
    images = rng.random((count, 32, 32, 3)).astype(np.float32) * 0.5
    labels = rng.integers(0, 2, count)
    corners = rng.integers(0, 24, (count, 2))
    for image, label, (row, column) in zip(images, labels, corners, strict=True):
        if label:
            image[row : row + 8, column : column + 8] = 1.0
    return images, labels, corners


@pytest.fixture(scope="module")
def square_detector():
    """A small convnet ending in Dense(1, sigmoid), trained (about 2 s) to tell whether a square is present."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(2, name="pool_a"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(1, activation="sigmoid", name="score"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    images, labels, _ = square_images(np.random.default_rng(0), 512)
    history = model.fit(images, labels, epochs=20, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    return model


def test_heatmap_points_at_the_evidence(square_detector):
    images, labels, corners = square_images(np.random.default_rng(1), 24)
    assert default_layer(square_detector) == "conv_b"
    for image, (row, column) in zip(images[labels == 1], corners[labels == 1], strict=True):
        heatmap, predictions, class_index = gradcam_heatmap(square_detector, image[None])
        # conv_b's map: 32 -> conv 30 -> pool 15 -> conv 13; the single sigmoid output is "class" 0.
        assert heatmap.shape == (13, 13) and class_index == 0 and predictions.shape == (1,)
        assert heatmap.min() >= 0 and heatmap.max() == pytest.approx(1.0)
        peak_row, peak_column = np.unravel_index(heatmap.argmax(), heatmap.shape)
        # A conv_b position covers input pixels 2*p .. 2*p+5: its centre lies within 3 pixels of the square.
        centre_row, centre_column = 2 * peak_row + 2.5, 2 * peak_column + 2.5
        assert row - 3 <= centre_row <= row + 11 and column - 3 <= centre_column <= column + 11


def test_overlay_has_the_photos_size_and_the_books_blend():
    photo = np.full((48, 80, 3), 100, dtype=np.uint8)
    heatmap = np.zeros((6, 6), dtype=np.float32)
    blended = overlay_heatmap(photo, heatmap, alpha=0.4)
    assert blended.shape == (48, 80, 3) and blended.dtype == np.uint8
    # JET(0) is dark blue (0, 0, 127.5): 0.4 x JET + photo.
    np.testing.assert_allclose(blended[20, 40], [100, 100, 100 + 0.4 * 128], atol=1.5)
    hot = overlay_heatmap(np.full((48, 80, 3), 250, dtype=np.uint8), np.ones((6, 6), np.float32), 0.4)
    assert hot.max() == 255  # saturated, as cv2.imwrite did
    assert heatmap_image(np.ones((14, 14), np.float32)).shape == (224, 224, 3)


def test_vgg16_body_with_a_small_head():
    import keras

    keras.utils.set_random_seed(0)
    body = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    features = keras.layers.GlobalAveragePooling2D()(body.output)
    model = keras.Model(body.input, keras.layers.Dense(5, activation="softmax")(features))
    batch = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32) * 255
    heatmap, predictions, class_index = gradcam_heatmap(model, batch, "block5_conv3", None)
    assert default_layer(model) == "block5_conv3"
    assert heatmap.shape == (4, 4) and 0 <= heatmap.min() and heatmap.max() <= 1
    assert class_index == int(np.argmax(predictions)) and predictions.shape == (5,)
    _, _, chosen = gradcam_heatmap(model, batch, "block4_conv3", 2)
    assert chosen == 2
    with pytest.raises(ConfigError, match=r"gradcam.class_index=5 .*0 to 4"):
        gradcam_heatmap(model, batch, "block5_conv3", 5)
    with pytest.raises(ConfigError, match=r"gradcam.layer=block9_conv3 .*block5_conv3"):
        gradcam_heatmap(model, batch, "block9_conv3", None)


def test_predictions_without_class_names_say_why():
    predictions = np.array([0.1, 0.6, 0.3])
    lines = describe_predictions(predictions, top=2, imagenet=False)
    assert lines[:2] == ["class 1: 0.6000", "class 2: 0.3000"]
    assert "ImageNet weights" in lines[-1]
    assert "not the 1000 ImageNet classes" in describe_predictions(predictions, top=2, imagenet=True)[-1]
    assert describe_predictions(np.array([0.73]), top=3) == ["output 0 (single unit): 0.7300"]


def test_imagenet_names_when_the_class_index_is_available_and_not_otherwise(monkeypatch):
    from keras.applications import imagenet_utils

    predictions = np.zeros(1000)
    predictions[[386, 101, 385]] = [0.9, 0.08, 0.02]

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure")

    monkeypatch.setattr(imagenet_utils, "decode_predictions", offline)  # never download in tests
    lines = describe_predictions(predictions, top=3, imagenet=True)
    assert lines[0] == "class 386: 0.9000" and "URL fetch failure" in lines[-1]

    def decoded(batch, top):
        return [[("n02504458", "African_elephant", 0.9), ("n01871265", "tusker", 0.08)][:top]]

    monkeypatch.setattr(imagenet_utils, "decode_predictions", decoded)
    lines = describe_predictions(predictions, top=2, imagenet=True)
    assert lines == ["class 386 n02504458 African_elephant: 0.9000", "class 101 n01871265 tusker: 0.0800"]


def test_heatmap_inside_a_residual_block_is_the_books_gradient():
    """Grad-CAM at conv_b, which a skip connection bypasses: its weights are d score / d conv_b's map."""
    import keras
    import tensorflow as tf

    model = residual_convnet()
    batch = np.random.default_rng(2).random((1, 24, 24, 3)).astype(np.float32)
    heatmap, predictions, class_index = gradcam_heatmap(model, batch, "conv_b", 1)
    # The book's own computation: one model outputting the feature map and the scores, under a tape.
    both = keras.Model(model.inputs, [model.get_layer("conv_b").output, model.output])
    with tf.GradientTape() as tape:
        feature_map, scores = both(batch)
        score = scores[:, 1]
    weights = np.mean(tape.gradient(score, feature_map).numpy(), axis=(0, 1, 2))
    expected = np.maximum(np.mean(feature_map.numpy()[0] * weights, axis=-1), 0)
    assert expected.max() > 0
    np.testing.assert_allclose(heatmap, expected / expected.max(), atol=1e-5)
    np.testing.assert_allclose(predictions, scores.numpy()[0], atol=1e-6)
    assert class_index == 1 and heatmap.shape == (24, 24)
