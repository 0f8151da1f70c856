"""Neural style transfer (book 8.3): repaint a content photo in the style of another with VGG19 and L-BFGS.

The loss is the book's: content_weight x squared difference of ``block5_conv2`` features of the
content photo and the generated image; style_weight / (number of style layers) x the squared
difference of Gram matrices, / (4 · 3² · (H·W)²), summed over the style layers; and
total_variation_weight x Σ((Δx² + Δy²)^1.25), which keeps the image smooth. Starting from the
content photo, scipy's L-BFGS (``fmin_l_bfgs_b(maxfun=20)``) runs ``iterations`` times; after each
the image is written as ``style_transfer_result_at_iteration_N.png`` in the run directory and (where
TensorFlow is installed) as a TensorBoard image (``tensorboard/style_transfer``), and its losses are a
history row (phase ``style_transfer``, ``epoch`` = iteration from 0, as the book prints).

It runs on every Keras backend: the losses are ``keras.ops`` and the gradient with respect to the image
comes from :mod:`dlbook.models.input_gradients` (traced or compiled once, the image size being fixed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlbook.errors import ConfigError
from dlbook.tasks import TaskResult
from dlbook.tasks.deep_dream import build_base, check_weights, layer_outputs, step_cap

log = logging.getLogger("dlbook")

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Mean ImageNet pixel in BGR order, which vgg19.preprocess_input ("caffe" mode) subtracts.
BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)
TENSORBOARD_DIR = Path("tensorboard") / "style_transfer"


def gram_matrix(features):
    """The Gram matrix (channels x channels) of one image's (h, w, channels) feature maps."""
    from keras import ops

    features = ops.convert_to_tensor(features, "float32")
    flat = ops.reshape(ops.transpose(features, (2, 0, 1)), (ops.shape(features)[2], -1))
    return ops.matmul(flat, ops.transpose(flat))


def style_loss(style, combination, height: int, width: int):
    """Σ(Gram(style) - Gram(combination))² / (4 · 3² · (height·width)²), with the book's 3 channels of the image."""
    from keras import ops

    size = float(height * width)
    return ops.sum(ops.square(gram_matrix(style) - gram_matrix(combination))) / (4.0 * 3**2 * size**2)


def content_loss(base, combination):
    """Σ(combination - base)², the squared distance between the generated and the content features."""
    from keras import ops

    return ops.sum(ops.square(ops.convert_to_tensor(combination, "float32") - ops.convert_to_tensor(base, "float32")))


def total_variation_loss(image):
    """Σ((x[i+1, j] - x[i, j])² + (x[i, j+1] - x[i, j])²)^1.25 over a (1, h, w, 3) batch (the book's)."""
    from keras import ops

    image = ops.convert_to_tensor(image, "float32")
    corner = image[:, :-1, :-1, :]
    down = ops.square(corner - image[:, 1:, :-1, :])
    right = ops.square(corner - image[:, :-1, 1:, :])
    return ops.sum(ops.power(down + right, 1.25))


def preprocess(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """A uint8 photo resized (nearest, as the book's load_img) to height x width, as VGG19's (1, h, w, 3) BGR input."""
    from dlbook.visualization.images import fit_image

    pixels = fit_image(photo, height, width, 3)
    return (pixels[..., ::-1] - BGR_MEANS)[None].astype(np.float32)


def deprocess(image: np.ndarray) -> np.ndarray:
    """The book's deprocess_image: VGG19's BGR, mean-free (h, w, 3) or (1, h, w, 3) array back to uint8 RGB."""
    pixels = np.asarray(image, dtype=np.float32).reshape(-1, *np.shape(image)[-3:])[0] + BGR_MEANS
    return np.clip(pixels[..., ::-1], 0, 255).astype(np.uint8)


class StyleLoss:
    """The loss and its gradient for L-BFGS, with the content and style features computed once.

    The book ran VGG19 on the batch [content, style, generated] at every evaluation; the first two
    never change, so their features are kept and only the generated image goes through the network.
    """

    def __init__(self, extractor, content, style, *, content_layer, style_layers, weights: dict[str, float]):
        from keras import ops

        from dlbook.models.input_gradients import value_and_gradient

        self.shape = content.shape
        height, width = content.shape[1:3]
        # Kept as NumPy: constants of the loss, with no gradient history (PyTorch) attached.
        content_features = ops.convert_to_numpy(extractor(content, training=False)[content_layer][0])
        style_features = extractor(style, training=False)
        styles = [ops.convert_to_numpy(style_features[name][0]) for name in style_layers]

        def loss(image):
            features = extractor(image, training=False)
            style_parts = [
                weights["style"] / len(style_layers) * style_loss(reference, features[name][0], height, width)
                for name, reference in zip(style_layers, styles, strict=True)
            ]
            parts = {
                "content_loss": weights["content"] * content_loss(content_features, features[content_layer][0]),
                "style_loss": sum(style_parts[1:], style_parts[0]),
                "tv_loss": weights["total_variation"] * total_variation_loss(image),
            }
            return parts["content_loss"] + parts["style_loss"] + parts["tv_loss"], parts

        # One image size for the whole run: one trace (TensorFlow) or one compilation (JAX).
        self.compute = value_and_gradient(loss)
        self.parts_by_loss: dict[float, dict[str, float]] = {}

    def __call__(self, flat: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, gradient) at the flat float64 image L-BFGS proposes, both float64 as scipy expects."""
        loss, gradient, parts = self.compute(np.asarray(flat, dtype=np.float32).reshape(self.shape))
        loss = float(loss)
        self.parts_by_loss[loss] = {name: float(value) for name, value in parts.items()}
        return loss, np.asarray(gradient, dtype=np.float64).ravel()

    def parts_at(self, flat: np.ndarray) -> dict[str, float]:
        """The weighted content, style and total-variation losses at a flat image."""
        _, _, parts = self.compute(np.asarray(flat, dtype=np.float32).reshape(self.shape))
        return {name: float(value) for name, value in parts.items()}


def _positive(key: str, value, kind=int):
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or value <= 0:
        raise ConfigError(f"task.{key}={value!r} is not valid: a positive {'number' if kind is float else 'integer'}.")
    return value


def run(
    trainer,
    *,
    weights: str | None = "imagenet",
    content_key: str = "content_image",
    style_key: str = "style_image",
    image_height: int = 400,
    content_layer: str = "block5_conv2",
    style_layers: Sequence[str] = STYLE_LAYERS,
    content_weight: float = 0.025,
    style_weight: float = 1.0,
    total_variation_weight: float = 1e-4,
    iterations: int = 20,
    maxfun: int = 20,
) -> TaskResult:
    """Transfer the style of photo ``style_key`` onto ``content_key``; see the module docstring. No model is saved."""
    from scipy.optimize import fmin_l_bfgs_b

    from dlbook.visualization.images import save_png, write_tensorboard

    weights = check_weights(weights)
    photos = trainer.data.info.get("images") or {}
    for key, name in (("content_key", content_key), ("style_key", style_key)):
        if name not in photos:
            raise ConfigError(
                f"task.{key}={name} is not valid: the dataset holds the photos {sorted(photos) or 'none'}; use "
                "dataset=image with dataset.images={content_image: <path or null>, style_image: <path or null>}."
            )
    height = _positive("image_height", image_height)
    iterations = _positive("iterations", iterations)
    maxfun = _positive("maxfun", maxfun)
    loss_weights = {
        "content": float(_positive("content_weight", content_weight, float)),
        "style": float(_positive("style_weight", style_weight, float)),
        "total_variation": float(total_variation_weight),
    }
    style_layers = [str(name) for name in style_layers]
    if not style_layers:
        raise ConfigError("task.style_layers is empty: name at least one VGG19 layer, e.g. [block1_conv1].")
    cap = step_cap(trainer)
    if cap is not None:
        iterations = min(iterations, cap)

    content_photo = photos[content_key]
    width = max(1, int(content_photo.shape[1] * height / content_photo.shape[0]))  # the book's img_width
    content = preprocess(content_photo, height, width)
    style = preprocess(photos[style_key], height, width)
    names = list(dict.fromkeys([content_layer, *style_layers]))
    extractor = layer_outputs(build_base("VGG19", weights), names, "task.content_layer / task.style_layers")
    evaluate = StyleLoss(
        extractor, content, style, content_layer=content_layer, style_layers=style_layers, weights=loss_weights
    )

    run_dir = Path(trainer.cfg.paths.run_dir)
    image = content.astype(np.float64).ravel()  # the book starts from the content photo
    losses = []
    for iteration in range(iterations):
        started = time.perf_counter()
        evaluate.parts_by_loss.clear()
        image, loss, _ = fmin_l_bfgs_b(evaluate, image, maxfun=maxfun)
        loss = float(loss)
        # L-BFGS returns the loss of an image it evaluated: take that evaluation's parts.
        parts = evaluate.parts_by_loss.get(loss) or evaluate.parts_at(image)
        seconds = time.perf_counter() - started
        log.info("iteration %d: loss %.6g (%.1f s)", iteration, loss, seconds)
        trainer.history_rows.append({"phase": "style_transfer", "epoch": iteration, "loss": loss, **parts})
        losses.append(loss)
        pixels = deprocess(image.reshape(content.shape))
        save_png(pixels, run_dir / f"style_transfer_result_at_iteration_{iteration}.png")
        write_tensorboard({"style_transfer_result": pixels}, run_dir / TENSORBOARD_DIR, step=iteration)
    metrics = {
        "final_loss": losses[-1],
        "first_loss": losses[0],
        "loss_ratio": losses[-1] / losses[0] if losses[0] else None,
        "iterations": len(losses),
        "image_size": f"{height}x{width}",
    }
    return TaskResult(None, {"style_transfer": metrics})
