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
from dlbook.visualization.activations import conv_layer_names, find_layer, is_image_layer
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


def model_graph(model):
    """The functional graph that ``model`` runs: the model itself, or the graph a built Sequential keeps."""
    import keras

    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if not hasattr(graph, "_run_through_graph"):
        raise DlbookError(
            f"gradcam needs a functional or a built Sequential model (one with an Input); this one is a "
            f"{type(model).__name__} without a graph of layers."
        )
    return graph


def run_with_feature_map(graph, batch, layer, feature_map=None) -> tuple[object, list]:
    """Run ``graph`` on ``batch``; returns (its output, the outputs ``layer`` gave, one per call of it).

    With ``feature_map``, the layer's output is replaced by it: the model's output becomes a function of the
    feature map (what Grad-CAM differentiates), whatever the graph (a chain like VGG16, or branches like
    Xception's, where the paths that bypass the layer read the image and stay fixed).
    """
    calls = []

    def operation_fn(operation):
        if operation is not layer:
            return operation

        def call(*args, **kwargs):
            calls.append(operation(*args, **kwargs) if feature_map is None else feature_map)
            return calls[-1]

        return call

    # Keras' Functional runs its nodes in order with operation_fn(node's layer) (keras.src.ops.function).
    return graph._run_through_graph([batch], operation_fn=operation_fn), calls


def gradcam_heatmap(
    model, batch: np.ndarray, layer_name: str | None = None, class_index: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Grad-CAM of one preprocessed image ``batch`` (1, height, width, channels), on any Keras backend.

    ``layer_name`` None: the last convolution layer. ``class_index`` None: the most probable class (the single
    output of a model ending in one sigmoid unit). Returns (heatmap in [0, 1] with the layer's height and
    width, the model's predictions for the image, the class index used).
    """
    import keras

    from dlbook.models.input_gradients import value_and_gradient

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
    graph = model_graph(model)
    image = keras.ops.convert_to_tensor(np.asarray(batch, dtype=np.float32))
    outputs, feature_maps = run_with_feature_map(graph, image, layer)
    if len(feature_maps) != 1:
        used = "is not on the path from the input to the output" if not feature_maps else "is called more than once"
        raise ConfigError(
            f"gradcam.layer={layer.name} is not valid: in this model the layer {used}, so the class score is not "
            "a function of one feature map of it. Choose a convolution layer of the model's main path, e.g. "
            f"{', '.join(conv_layer_names(model)[-3:]) or 'its last convolution'}."
        )
    predictions = keras.ops.convert_to_numpy(outputs)[0]
    if class_index is None:
        class_index = int(np.argmax(predictions))
    elif not 0 <= int(class_index) < classes:
        raise ConfigError(
            f"gradcam.class_index={class_index} is not valid: the model has {classes} output(s), "
            f"so give 0 to {classes - 1}, or null for the most probable class."
        )
    class_index = int(class_index)

    def class_score(feature_map):
        scores, _ = run_with_feature_map(graph, image, layer, feature_map)
        return keras.ops.sum(keras.ops.cast(scores, "float32")[:, class_index]), ()

    # One call: traced code would only add its compile time (compile=False runs it eagerly on every backend).
    feature_map = keras.ops.convert_to_numpy(feature_maps[0]).astype(np.float32)
    _, gradients, _ = value_and_gradient(class_score, compile=False)(feature_map)
    # One weight per channel: the gradient averaged over the batch and all positions (book: axis=(0, 1, 2)).
    weights = gradients.mean(axis=(0, 1, 2))
    heatmap = np.mean(feature_map[0] * weights, axis=-1)
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
