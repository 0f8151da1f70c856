"""Book 5.4c: Grad-CAM, the class activation heatmap: where in the image the evidence for a class lies.

The gradient of the class score (the model's output for that class, after softmax as in the book) with
respect to a convolution layer's feature map is averaged over positions: one weight per channel. The heatmap
is the mean over channels of weight x feature map, through ReLU, divided by its maximum (14x14 for VGG16's
block5_conv3). It is blended over the original photo as 0.4 x JET(heatmap) + image.
"""

from __future__ import annotations

import logging

import numpy as np

from dlbook.errors import ConfigError, DlbookError
from dlbook.visualization.activations import conv_layer_names, find_layer, is_image_layer, make_extractor
from dlbook.visualization.images import colorize

log = logging.getLogger("dlbook")

# The heatmap PNG is enlarged (nearest neighbour) to about the book's 224-pixel input, to be seen at all.
HEATMAP_DISPLAY_SIZE = 224


def default_layer(model) -> str:
    """The last 2D convolution layer: what Grad-CAM uses when no layer is configured."""
    names = conv_layer_names(model)
    if not names:
        raise DlbookError(
            "gradcam needs a convolution layer and this model has none at its top level; "
            "name the layer with gradcam.layer=<name>."
        )
    return names[-1]


def gradcam_heatmap(
    model, batch: np.ndarray, layer_name: str | None = None, class_index: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Grad-CAM of one preprocessed image ``batch`` (1, height, width, channels).

    ``layer_name`` None: the last convolution layer. ``class_index`` None: the most probable class (the single
    output of a model ending in one sigmoid unit). Returns (heatmap in [0, 1] with the layer's height and
    width, the model's predictions for the image, the class index used).
    """
    import tensorflow as tf

    layer = find_layer(model, layer_name or default_layer(model), "gradcam.layer")
    if not is_image_layer(layer):
        raise ConfigError(
            f"gradcam.layer={layer.name} is not valid: its output is not a feature map (height, width, channels). "
            f"Convolution layers: {', '.join(conv_layer_names(model)) or 'none'}."
        )
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise DlbookError(
            f"gradcam needs a model with one output of class scores (batch, classes); this one outputs "
            f"{[tuple(output.shape) for output in model.outputs]}."
        )
    classes = model.outputs[0].shape[-1]
    grad_model = make_extractor(model, [layer], with_output=True)
    with tf.GradientTape() as tape:
        feature_map, outputs = grad_model(tf.constant(batch, dtype=tf.float32))
        predictions = np.asarray(outputs)[0]
        if class_index is None:
            class_index = int(np.argmax(predictions))
        elif not 0 <= int(class_index) < classes:
            raise ConfigError(
                f"gradcam.class_index={class_index} is not valid: the model has {classes} output(s), "
                f"so give 0 to {classes - 1}, or null for the most probable class."
            )
        class_index = int(class_index)
        score = outputs[:, class_index]
    gradients = tape.gradient(score, feature_map)
    if gradients is None:
        raise DlbookError(
            f"gradcam: the model's output does not depend on layer {layer.name} as it is called here; "
            "choose a layer of the model's main path with gradcam.layer=<name>."
        )
    # One weight per channel: the gradient averaged over the batch and all positions (book: axis=(0, 1, 2)).
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))
    heatmap = np.mean(np.asarray(feature_map[0]) * np.asarray(weights), axis=-1)
    heatmap = np.maximum(heatmap, 0)
    peak = heatmap.max()
    if peak > 0:
        heatmap = heatmap / peak
    else:
        log.warning(
            "gradcam: no position of %s raises class %d's score; the heatmap is all zero", layer.name, class_index
        )
    return heatmap.astype(np.float32), predictions, class_index


def resize_heatmap(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """The heatmap stretched to height x width by bilinear interpolation (cv2.resize in the book)."""
    from PIL import Image

    # A float32 array becomes a 32-bit float ("F") image: the interpolation keeps fractional values.
    stretched = Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize((width, height), Image.BILINEAR)
    return np.clip(np.asarray(stretched), 0, 1)


def heatmap_image(heatmap: np.ndarray) -> np.ndarray:
    """The heatmap as a JET-colored uint8 RGB image, enlarged (nearest) to about 224 pixels to be visible."""
    scale = max(1, HEATMAP_DISPLAY_SIZE // max(heatmap.shape))
    colored = colorize(np.uint8(255 * heatmap), "jet")
    return np.repeat(np.repeat(colored, scale, axis=0), scale, axis=1)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """The book's superimposed image: alpha x JET(heatmap stretched to the image) + image, saturated to 255."""
    if float(alpha) < 0:
        raise ConfigError(f"gradcam.alpha={alpha} is not valid: give a weight of 0 or more (the book uses 0.4).")
    height, width = image.shape[:2]
    colored = colorize(np.uint8(255 * resize_heatmap(heatmap, height, width)), "jet").astype(np.float32)
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)
    return np.clip(colored * float(alpha) + rgb.astype(np.float32), 0, 255).astype(np.uint8)


def imagenet_names(predictions: np.ndarray, top: int, imagenet: bool) -> tuple[list | None, str | None]:
    """ImageNet (wnid, name, probability) of the top classes, or (None, why the names are missing).

    keras' decode_predictions downloads the class index file once (into KERAS_HOME); offline it fails, and
    the predictions are then shown by index, never an error.
    """
    if not imagenet:
        return None, "class names are known for ImageNet weights only (model.weights=imagenet)"
    if predictions.shape[-1] != 1000:
        return None, f"the model has {predictions.shape[-1]} outputs, not the 1000 ImageNet classes"
    from keras.applications.imagenet_utils import decode_predictions

    try:
        return decode_predictions(predictions[None], top=top)[0], None
    except Exception as error:  # noqa: BLE001 - any failure (offline, bad cache) only costs the names
        return None, f"the ImageNet class index file could not be read or downloaded ({type(error).__name__}: {error})"


def describe_predictions(predictions: np.ndarray, top: int = 3, imagenet: bool = False) -> list[str]:
    """Lines naming the ``top`` predictions (as the book prints them), with a note when names are missing."""
    if predictions.shape[-1] == 1:
        return [f"output 0 (single unit): {float(predictions[0]):.4f}"]
    named, reason = imagenet_names(predictions, top, imagenet)
    if named is not None:
        order = np.argsort(predictions)[::-1][: len(named)]  # the order decode_predictions uses
        return [
            f"class {int(i)} {wnid} {name}: {float(p):.4f}" for i, (wnid, name, p) in zip(order, named, strict=True)
        ]
    order = np.argsort(predictions)[::-1][: max(1, int(top))]
    return [f"class {int(i)}: {float(predictions[i]):.4f}" for i in order] + [f"(no class names: {reason})"]
