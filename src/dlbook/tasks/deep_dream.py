"""DeepDream (book 8.2): gradient ascent on an image to amplify what InceptionV3's mixed layers see.

The loss is the book's: for each chosen layer, coefficient x sum of squared activations (two border
pixels cropped, to avoid edge artefacts) / number of activation values. The image climbs the loss
by normalised gradient steps at 3 successive scales ("octaves", x1.4 each); after each octave the
detail lost by the smaller scales is put back from the original photo. Every octave's result is
written as ``dream_at_scale_HxW.png`` and the last as ``final_dream.png`` in the run directory, and
(where TensorFlow is installed) as TensorBoard images under ``tensorboard/deep_dream``; the loss of
every ascent step is a history row (phase ``octave_N``, ``epoch`` = the step number from 0, as the
book prints it).

It runs on every Keras backend: the loss and the gradient normalisation are ``keras.ops``, and the
gradient with respect to the image comes from :mod:`dlbook.models.input_gradients`. TensorFlow traces
the step at most twice (the second trace has no fixed size); JAX compiles it once per octave size (the
shapes differ), then reuses it for that octave's steps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from dlbook.errors import ConfigError, DlbookError
from dlbook.tasks import TaskResult

log = logging.getLogger("dlbook")

# The book's layers and their contributions to the loss.
BOOK_LAYERS = {"mixed2": 0.2, "mixed3": 3.0, "mixed4": 2.0, "mixed5": 1.5}
# keras.applications.InceptionV3 needs at least 75x75 pixels (its stem shrinks images 8x, without padding).
MIN_SIZE = 75
TENSORBOARD_DIR = Path("tensorboard") / "deep_dream"


def step_cap(trainer) -> int | None:
    """``trainer.max_steps`` (debug=fast sets 3): the most ascent steps / iterations a task may take."""
    return OmegaConf.select(trainer.cfg, "trainer.max_steps", default=None)


def check_weights(weights, key: str = "weights") -> str | None:
    """None (random weights), ``imagenet`` or the path of a weights file; anything else is a ConfigError."""
    if weights is None or weights == "imagenet" or Path(str(weights)).is_file():
        return weights
    raise ConfigError(
        f"{key}={weights} is not valid: use imagenet (downloaded once into KERAS_HOME/models), "
        "null (random weights, for quick checks) or the path of a weights file."
    )


def build_base(constructor: str, weights: str | None):
    """``keras.applications.<constructor>(weights=..., include_top=False)`` with a clear error if the download fails."""
    import keras

    try:
        return getattr(keras.applications, constructor)(weights=weights, include_top=False)
    except Exception as error:
        if weights != "imagenet":
            raise
        raise DlbookError(
            f"weights=imagenet: {constructor}'s ImageNet weights could not be loaded ({error}). They are "
            "downloaded once into KERAS_HOME/models; connect to the internet once, or use weights=null."
        ) from error


def layer_outputs(base, names, key: str):
    """A model from ``base``'s input to the outputs of the layers ``names`` (a dict name -> output)."""
    import keras

    known = [layer.name for layer in base.layers]
    missing = [name for name in names if name not in known]
    if missing:
        mixed = [name for name in known if name.startswith("mixed")] or known
        raise ConfigError(
            f"{key} names unknown layer(s) {', '.join(missing)}: valid names are those of {base.name}'s layers, "
            f"e.g. {', '.join(mixed[:12])}."
        )
    return keras.Model(base.input, {name: base.get_layer(name).output for name in names})


def dream_loss(activations: Mapping, coefficients: Mapping[str, float]):
    """Σ coeff · Σ(act[:, 2:-2, 2:-2, :]²) / (number of values of act), the book's DeepDream loss (keras.ops)."""
    from keras import ops

    loss = ops.convert_to_tensor(0.0, "float32")
    for name, coefficient in coefficients.items():
        activation = ops.convert_to_tensor(activations[name], "float32")
        scaling = ops.cast(ops.size(activation), "float32")
        loss = loss + coefficient * ops.sum(ops.square(activation[:, 2:-2, 2:-2, :])) / scaling
    return loss


def normalize_gradient(gradient):
    """The book's ``grads / K.maximum(K.mean(K.abs(grads)), 1e-7)``: steps of the same size whatever the scale."""
    from keras import ops

    gradient = ops.convert_to_tensor(gradient, "float32")
    return gradient / ops.maximum(ops.mean(ops.abs(gradient)), 1e-7)


def loss_and_gradient(extractor, coefficients: Mapping[str, float]):
    """A function image -> (loss, gradient normalised by its mean absolute value), NumPy in and out.

    The gradient comes from :func:`dlbook.models.input_gradients.value_and_gradient`, on whichever backend
    Keras runs. TensorFlow traces at most twice (its second trace, of unknown size, serves every later
    octave); JAX compiles once per octave size.
    """
    from keras import ops

    from dlbook.models.input_gradients import value_and_gradient

    def loss(image):
        return dream_loss(extractor(image, training=False), coefficients), ()

    loss_with_gradient = value_and_gradient(loss)

    def compute(image: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient, _ = loss_with_gradient(image)
        return float(value), ops.convert_to_numpy(normalize_gradient(gradient))

    return compute


def gradient_ascent(compute, image: np.ndarray, iterations: int, step: float, max_loss: float | None):
    """Up to ``iterations`` steps of ``image += step * gradient``; stops once the loss exceeds ``max_loss``.

    Returns the image and the losses of the steps taken (the values the book prints).
    """
    losses = []
    for index in range(iterations):
        loss, gradient = compute(image)
        if max_loss is not None and loss > max_loss:
            log.info("loss %.4g > max_loss %s at step %d: next octave", loss, max_loss, index)
            break
        log.info("...loss value at %d: %.4g", index, loss)
        losses.append(loss)
        image = image + step * gradient
    return image, losses


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A (1, h, w, 3) batch zoomed (bilinear, as the book's scipy.ndimage.zoom(order=1)) to ``shape``."""
    from scipy import ndimage

    factors = (1, shape[0] / image.shape[1], shape[1] / image.shape[2], 1)
    return ndimage.zoom(image, factors, order=1)


def octave_shapes(shape: tuple[int, int], octaves: int, scale: float) -> list[tuple[int, int]]:
    """The book's successive shapes, smallest first: shape / scale**(octaves-1), ..., shape."""
    return [tuple(int(dim / scale**index) for dim in shape) for index in range(octaves)][::-1]


def preprocess(photo: np.ndarray, height: int | None) -> np.ndarray:
    """A uint8 photo (resized to ``height``, width in proportion) as InceptionV3's (1, h, w, 3) input in [-1, 1]."""
    from dlbook.visualization.images import fit_image

    if height is not None:
        width = max(1, round(photo.shape[1] * height / photo.shape[0]))
        photo = fit_image(photo, height, width, 3)
    return (np.asarray(photo, dtype=np.float32)[None] / 127.5 - 1.0).astype(np.float32)


def deprocess(image: np.ndarray) -> np.ndarray:
    """The book's deprocess_image: InceptionV3's [-1, 1] back to uint8 RGB pixels."""
    return np.clip((image[0] / 2.0 + 0.5) * 255.0, 0, 255).astype(np.uint8)


def _check_settings(photo_shape, image_height, octaves, octave_scale, iterations, step) -> list[tuple[int, int]]:
    if image_height is not None and (not isinstance(image_height, int) or isinstance(image_height, bool)):
        raise ConfigError(f"task.image_height={image_height!r} is not valid: null (the photo's size) or pixels.")
    if not isinstance(octaves, int) or isinstance(octaves, bool) or octaves < 1:
        raise ConfigError(f"task.octaves={octaves!r} is not valid: a positive integer (the book: 3).")
    if not isinstance(octave_scale, (int, float)) or octave_scale < 1:
        raise ConfigError(f"task.octave_scale={octave_scale!r} is not valid: a number >= 1 (the book: 1.4).")
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        raise ConfigError(f"task.iterations={iterations!r} is not valid: a positive integer (the book: 20).")
    if not isinstance(step, (int, float)) or step <= 0:
        raise ConfigError(f"task.step={step!r} is not valid: a positive number (the book: 0.01).")
    height = image_height or photo_shape[0]
    width = max(1, round(photo_shape[1] * height / photo_shape[0]))
    shapes = octave_shapes((height, width), octaves, octave_scale)
    if min(shapes[0]) < MIN_SIZE:
        square = math.ceil(MIN_SIZE * octave_scale ** (octaves - 1))
        raise ConfigError(
            f"task.image_height={image_height} is too small for task.octaves={octaves} x {octave_scale}: the "
            f"smallest octave would be {shapes[0][0]}x{shapes[0][1]} pixels and InceptionV3 needs at least "
            f"{MIN_SIZE}x{MIN_SIZE}. Use a larger image_height (e.g. {square} "
            "for a square photo), fewer octaves, or null for the photo's own size."
        )
    return shapes


def run(
    trainer,
    *,
    weights: str | None = "imagenet",
    image_key: str = "image",
    layers: Mapping[str, float] | None = None,
    step: float = 0.01,
    octaves: int = 3,
    octave_scale: float = 1.4,
    iterations: int = 20,
    max_loss: float | None = 10.0,
    image_height: int | None = None,
) -> TaskResult:
    """Dream on the dataset's photo ``image_key``; see the module docstring. No model is saved."""
    from dlbook.visualization.images import save_png, write_tensorboard

    weights = check_weights(weights)
    coefficients = {str(name): float(value) for name, value in (layers or BOOK_LAYERS).items()}
    if not coefficients:
        raise ConfigError("task.layers is empty: give layer: coefficient pairs, e.g. {mixed4: 2.0}.")
    photos = trainer.data.info.get("images") or {}
    if image_key not in photos:
        raise ConfigError(
            f"task.image_key={image_key} is not valid: the dataset holds the photos {sorted(photos) or 'none'}; "
            "use dataset=image with dataset.images={image: <path or null>}."
        )
    shapes = _check_settings(photos[image_key].shape, image_height, octaves, octave_scale, iterations, step)
    cap = step_cap(trainer)
    if cap is not None:
        iterations = min(iterations, cap)

    extractor = layer_outputs(build_base("InceptionV3", weights), list(coefficients), "task.layers")
    compute = loss_and_gradient(extractor, coefficients)
    run_dir = Path(trainer.cfg.paths.run_dir)

    image = preprocess(photos[image_key], image_height)
    original = image.copy()
    shrunk_original = resize(image, shapes[0])
    steps_taken, final_loss = [], None
    for number, shape in enumerate(shapes, start=1):
        log.info("octave %d: processing image shape %s", number, shape)
        image = resize(image, shape)
        image, losses = gradient_ascent(compute, image, iterations, step, max_loss)
        trainer.history_rows.extend(
            {"phase": f"octave_{number}", "epoch": index, "loss": loss} for index, loss in enumerate(losses)
        )
        steps_taken.append(len(losses))
        final_loss = losses[-1] if losses else final_loss
        # Re-inject the detail the smaller scales lost: the original at this size minus its blurred upscale.
        image += resize(original, shape) - resize(shrunk_original, shape)
        shrunk_original = resize(original, shape)
        pixels = deprocess(image)
        save_png(pixels, run_dir / f"dream_at_scale_{shape[0]}x{shape[1]}.png")
        write_tensorboard({"dream_at_scale": pixels}, run_dir / TENSORBOARD_DIR, step=number)
    save_png(pixels, run_dir / "final_dream.png")
    write_tensorboard({"final_dream": pixels}, run_dir / TENSORBOARD_DIR, step=len(shapes))
    metrics = {
        "final_loss": final_loss,
        "octaves": len(shapes),
        "steps": steps_taken,
        "shapes": [f"{height}x{width}" for height, width in shapes],
    }
    return TaskResult(None, {"dream": metrics})
