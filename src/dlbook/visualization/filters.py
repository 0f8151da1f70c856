"""Book 5.4b: the pattern each filter responds to most, found by gradient ascent in input space.

For each filter: start from a gray image with noise (``random((1, s, s, 3)) * 20 + 128``), and take
``steps`` steps of ``step_size`` along the gradient of loss = mean(activation[..., filter]) with respect to
the image, the gradient divided by its root mean square (+1e-5); then ``deprocess_image`` makes it viewable.
The book computed one filter at a time with K.gradients/K.function; here a batch of filters is ascended at
once, on any Keras backend (the loss in ``keras.ops``, its gradient by ``dlbook.models.input_gradients``):
each image's loss depends on that image alone, so its gradient (and its normalization, per image) is the
same as alone.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from dlbook.errors import ConfigError
from dlbook.visualization.activations import find_layer, is_image_layer, make_extractor
from dlbook.visualization.images import input_shape, tile_grid

log = logging.getLogger("dlbook")

# Images ascended together: about 64 images of 64x64 per batch, fewer when they are larger (memory).
PIXELS_PER_BATCH = 64 * 64 * 64


def deprocess_image(image: np.ndarray) -> np.ndarray:
    """The book's deprocess_image: z-score, x0.1, +0.5, clip to [0, 1], x255, as uint8."""
    image = np.array(image, dtype=np.float64)
    image -= image.mean()
    image /= image.std() + 1e-5
    image *= 0.1
    image += 0.5
    image = np.clip(image, 0, 1) * 255
    return np.clip(image, 0, 255).astype(np.uint8)


def pattern_shape(model, size: int) -> tuple[int, int, int]:
    """(height, width, channels) of the patterns: size x size, unless the model only takes one input size."""
    height, width, channels = input_shape(model)
    if height is not None and width is not None and (height, width) != (size, size):
        log.info(
            "filters: the model takes %dx%d images only; patterns are %dx%d, not %d", height, width, height, width, size
        )
    return height or size, width or size, channels


def generate_patterns(
    model,
    layer_name: str,
    filter_indices: list[int],
    size: int = 64,
    steps: int = 40,
    step_size: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient ascent for each filter of ``layer_name`` in ``filter_indices``.

    Returns (patterns, losses): the deprocessed uint8 images (n, height, width, channels), and each filter's
    loss (mean activation) before every step and after the last one (steps + 1, n).
    """
    import keras

    from dlbook.models.input_gradients import value_and_gradient

    layer = find_layer(model, layer_name, "filters.layers")
    if not is_image_layer(layer):
        raise ConfigError(
            f"filters.layers={layer_name} is not valid: its output is not a feature map (height, width, filters), "
            "so it has no filters to draw. Choose convolution layers."
        )
    extractor = make_extractor(model, [layer])
    channels = layer.output.shape[-1]
    height, width, depth = pattern_shape(model, size)
    rng = np.random.default_rng(seed)
    # Drawn for all filters up front, so the start images do not depend on how filters are batched.
    start = (rng.random((len(filter_indices), height, width, depth)) * 20 + 128).astype(np.float32)

    batch_size = max(1, PIXELS_PER_BATCH // (height * width))
    patterns, losses = [], []
    for first in range(0, len(filter_indices), batch_size):
        indices = filter_indices[first : first + batch_size]
        mask = np.eye(channels, dtype=np.float32)[indices]  # one row per image: the filter it ascends

        def filter_losses(images, mask=mask):
            activation = keras.ops.cast(extractor(images)[0], "float32")
            # mean over positions of the chosen filter, one loss per image
            chosen = keras.ops.mean(activation, axis=(1, 2)) * keras.ops.convert_to_tensor(mask)
            losses = keras.ops.sum(chosen, axis=-1)
            # Their sum is differentiated: each image's gradient is that of its own loss.
            return keras.ops.sum(losses), losses

        # Traced once per batch of filters (its mask is a constant of the trace), then run ``steps`` times.
        ascend = value_and_gradient(filter_losses)
        images = start[first : first + batch_size]
        history = []
        for _ in range(int(steps)):
            _, gradients, loss = ascend(images)
            history.append(loss)
            rms = np.sqrt(np.mean(np.square(gradients), axis=(1, 2, 3), keepdims=True))
            images = images + gradients / (rms + 1e-5) * step_size
        history.append(ascend(images)[2])
        losses.append(np.stack(history))
        patterns.extend(deprocess_image(image) for image in images)
    return np.stack(patterns), np.concatenate(losses, axis=1)


def filter_grid(patterns: np.ndarray, margin: int = 5) -> np.ndarray:
    """Patterns in a square-ish grid (8 x 8 for 64), ``margin`` black pixels apart, row by row."""
    return tile_grid(patterns, math.ceil(math.sqrt(len(patterns))), int(margin))


def _check_positive(key: str, value, allow_zero: bool = False) -> None:
    if value is None or value < (0 if allow_zero else 1):
        raise ConfigError(f"{key}={value} is not valid: give a whole number of {0 if allow_zero else 1} or more.")


def visualize_filters(
    model,
    layers: list[str],
    count: int = 64,
    size: int = 64,
    steps: int = 40,
    step_size: float = 1.0,
    margin: int = 5,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Book 5.4b: {layer: grid of the patterns of its first ``count`` filters}, and {layer: losses}.

    With the book's settings (64 filters of 64x64, margin 5) each grid is 8*64 + 7*5 = 547 pixels square.
    """
    _check_positive("filters.count", count)
    _check_positive("filters.size", size)
    _check_positive("filters.steps", steps, allow_zero=True)
    _check_positive("filters.margin", margin, allow_zero=True)
    if not layers:
        raise ConfigError("filters.layers=[] is not valid: name the convolution layers to show, e.g. [block1_conv1].")
    grids, losses = {}, {}
    for name in layers:
        layer = find_layer(model, name, "filters.layers")
        available = layer.output.shape[-1] if is_image_layer(layer) else count
        indices = list(range(min(int(count), available)))
        patterns, losses[name] = generate_patterns(model, name, indices, int(size), int(steps), float(step_size), seed)
        grids[name] = filter_grid(patterns, margin)
        log.info(
            "filters: %s, %d filters, mean activation %.4g -> %.4g",
            name,
            len(indices),
            losses[name][0].mean(),
            losses[name][-1].mean(),
        )
    return grids, losses
