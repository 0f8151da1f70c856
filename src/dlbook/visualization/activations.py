"""Book 5.4a: the activations of a convnet's first layers for one image, one grid of channels per layer.

Also the layer look-ups the other visualizations share (by name, the convolution layers).
"""

from __future__ import annotations

import logging

import numpy as np

from dlbook.errors import ConfigError, DlbookError
from dlbook.visualization.images import tile_grid

log = logging.getLogger("dlbook")


def is_image_layer(layer) -> bool:
    """True when the layer outputs one batch of feature maps (batch, height, width, channels)."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # a layer used twice, or never called: no single output
        return False
    return len(shape) == 4


def conv_layer_names(model) -> list[str]:
    """Names of the model's 2D convolution layers, in order."""
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)
    return [layer.name for layer in model.layers if isinstance(layer, kinds)]


def find_layer(model, name: str, key: str):
    """The layer called ``name``; a ConfigError naming ``key`` and some valid layers when there is none."""
    for layer in model.layers:
        if layer.name == name:
            return layer
    choices = conv_layer_names(model) or [layer.name for layer in model.layers]
    # The first and the last ones: Grad-CAM's usual choice is the last convolution.
    shown = ", ".join(choices) if len(choices) <= 16 else ", ".join([*choices[:6], "...", *choices[-6:]])
    raise ConfigError(
        f"{key}={name} is not valid: the model has no layer of that name. Layers to choose from: {shown}."
    )


def first_layers(model, count: int) -> list:
    """The first ``count`` layers (not counting the input layer) that output feature maps.

    The book takes ``model.layers[:8]`` of its Sequential convnet (4 convolutions, 4 poolings); layers among
    those that output something else (Flatten, Dense) are skipped with a note.
    """
    import keras

    if int(count) < 1:
        raise ConfigError(f"activations.layers={count} is not valid: give how many layers to show (1 or more).")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][: int(count)]
    chosen = [layer for layer in layers if is_image_layer(layer)]
    skipped = [layer.name for layer in layers if layer not in chosen]
    if skipped:
        log.info("activations: skipped layers without feature maps: %s", ", ".join(skipped))
    if not chosen:
        raise DlbookError(
            f"None of the first {count} layers outputs feature maps (height, width, channels); "
            "activations are shown for convolution and pooling layers."
        )
    return chosen


def make_extractor(model, layers: list, with_output: bool = False):
    """A function: image batch -> [each layer's output (+ the model's output with ``with_output``)], one pass.

    A Sequential model is run layer by layer: a Sequential loaded from model.keras has its layers called
    several times while it is rebuilt, so ``layer.output`` may belong to another copy of the graph than
    ``model.outputs``, and a gradient from one to the other would be None. A functional model (VGG16)
    becomes one multi-output model.
    """
    import keras

    if isinstance(model, keras.Sequential):
        wanted = [model.layers.index(layer) for layer in layers]
        last = len(model.layers) - 1 if with_output else max(wanted)

        def run_layers(batch):
            outputs, x = {}, batch
            for index, layer in enumerate(model.layers[: last + 1]):
                x = layer(x, training=False)
                outputs[index] = x
            return [outputs[index] for index in wanted] + ([x] if with_output else [])

        return run_layers
    extra = [model.outputs[0]] if with_output else []
    extractor = keras.Model(inputs=model.inputs[0], outputs=[layer.output for layer in layers] + extra)

    def run_model(batch):
        outputs = extractor(batch, training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    return run_model


def layer_activations(model, batch: np.ndarray, layers: list) -> list[np.ndarray]:
    """Each layer's output for ``batch`` (one image), computed in one pass (as NumPy, on any backend)."""
    import keras

    # keras.ops.convert_to_numpy also detaches a PyTorch tensor that tracks gradients (np.asarray refuses it).
    return [keras.ops.convert_to_numpy(output) for output in make_extractor(model, layers)(batch)]


def channel_image(channel: np.ndarray) -> np.ndarray:
    """The book's post-processing of one channel: z-score, x64, +128, clipped to 0-255, as uint8."""
    channel = np.array(channel, dtype=np.float32)
    channel -= channel.mean()
    std = channel.std()
    # A dead channel (constant, often all zero after ReLU) would divide by 0 (NaN in the book): show it black.
    if not np.isfinite(std) or std == 0:
        return np.zeros(channel.shape, dtype=np.uint8)
    channel = channel / std * 64 + 128
    return np.clip(channel, 0, 255).astype(np.uint8)


def activation_grid(activation: np.ndarray, images_per_row: int = 16) -> np.ndarray:
    """All channels of one feature map (height, width, channels) side by side, ``images_per_row`` per row.

    The grid is ceil(channels / images_per_row) * height high and min(images_per_row, channels) * width wide
    (no margin, as in the book); each channel is post-processed by ``channel_image``.
    """
    if int(images_per_row) < 1:
        raise ConfigError(f"activations.images_per_row={images_per_row} is not valid: give 1 or more.")
    tiles = np.stack([channel_image(activation[..., index]) for index in range(activation.shape[-1])])
    return tile_grid(tiles, int(images_per_row))


def visualize_activations(model, batch: np.ndarray, layers: int = 8, images_per_row: int = 16) -> dict[str, np.ndarray]:
    """Book 5.4a: {layer name: uint8 gray grid of its channels} for the first ``layers`` layers of ``model``.

    ``batch`` is one preprocessed image (1, height, width, channels) of the model's input size.
    """
    chosen = first_layers(model, layers)
    activations = layer_activations(model, batch, chosen)
    grids = {}
    for layer, activation in zip(chosen, activations, strict=True):
        grids[layer.name] = activation_grid(activation[0], images_per_row)
        log.info("activations: %s %s -> grid %s", layer.name, activation.shape[1:], grids[layer.name].shape)
    return grids
