"""Images in and out: read a photo, fit it to a model's input, write PNGs, grids and TensorBoard summaries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dlbook.errors import ConfigError, DlbookError

SAMPLE_IMAGE = "scikit-image's bundled photo of Chelsea the cat (skimage.data.chelsea, 300x451)"
TENSORBOARD_SUBDIR = Path("tensorboard") / "visualize"


def sample_image() -> np.ndarray:
    """The bundled sample photo (Chelsea the cat) as uint8 RGB; it ships inside scikit-image, no download."""
    try:
        from skimage import data
    except ImportError as error:
        raise DlbookError(
            "image=null uses the sample photo bundled with scikit-image, which is not installed: "
            "`pip install scikit-image`, or give a photo of your own with image=<path to a JPEG or PNG>."
        ) from error
    return np.asarray(data.chelsea(), dtype=np.uint8)


def load_image(path: str | Path | None) -> np.ndarray:
    """The image at ``path`` as uint8 RGB (height, width, 3); ``None`` gives the bundled sample photo."""
    if path is None:
        return sample_image()
    from PIL import Image, UnidentifiedImageError

    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"image={path} is not valid: no such file. Give the path of a JPEG or PNG photo "
            "(relative to the folder you run dlbook in), or image=null for the bundled photo of a cat."
        )
    try:
        with Image.open(file) as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise ConfigError(
            f"image={path} is not valid: it cannot be read as an image ({error}). Give a JPEG or PNG file."
        ) from error


def input_shape(model) -> tuple[int | None, int | None, int]:
    """(height, width, channels) of a model's single image input; None where any size is accepted."""
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 4 or shape[-1] is None:
        raise DlbookError(
            f"This model's input has shape {shape}; visualizations need one image input "
            "(batch, height, width, channels), as a convnet has."
        )
    return shape[1], shape[2], int(shape[3])


def fit_image(image: np.ndarray, height: int | None, width: int | None, channels: int) -> np.ndarray:
    """``image`` (uint8 RGB) resized to height x width and converted to 1 or 3 channels, as float32 0-255.

    None keeps the image's own size. Resizing is nearest-neighbour, as keras' ``load_img(target_size=...)``
    did in the book; one channel is the luma of the RGB image (``load_img(color_mode="grayscale")``).
    """
    from PIL import Image

    picture = Image.fromarray(image)
    size = (width or picture.width, height or picture.height)
    if size != picture.size:
        picture = picture.resize(size, Image.NEAREST)
    if channels == 1:
        return np.asarray(picture.convert("L"), dtype=np.float32)[..., None]
    if channels != 3:
        raise DlbookError(f"This model takes images with {channels} channels; only 1 (gray) or 3 (RGB) are supported.")
    return np.asarray(picture, dtype=np.float32)


def preprocess(batch: np.ndarray, name: str, key: str) -> np.ndarray:
    """The model's view of a 0-255 batch: ``none`` (as is), ``rescale`` (/255, the book's own convnets) or the
    ``preprocess_input`` of a keras.applications module, e.g. ``vgg16`` (what ImageNet weights expect)."""
    if name == "none":
        return batch
    if name == "rescale":
        return batch / 255.0
    import keras

    module = getattr(keras.applications, str(name), None)
    if module is None or not hasattr(module, "preprocess_input"):
        raise ConfigError(
            f"{key}={name} is not valid: use none, rescale (divide by 255) or the name of a "
            "keras.applications module with preprocess_input, e.g. vgg16, vgg19, resnet50, inception_v3."
        )
    return np.asarray(module.preprocess_input(np.array(batch, dtype=np.float32)))


def tile_grid(tiles: np.ndarray, columns: int, margin: int = 0) -> np.ndarray:
    """Tiles (n, h, w[, c]) laid out row by row, ``columns`` per row, ``margin`` black pixels between them.

    The grid is rows*h + (rows-1)*margin high and columns*w + (columns-1)*margin wide, rows = ceil(n/columns);
    the places after the last tile stay black.
    """
    count, height, width = tiles.shape[:3]
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    grid = np.zeros(
        (rows * height + (rows - 1) * margin, columns * width + (columns - 1) * margin, *tiles.shape[3:]),
        dtype=tiles.dtype,
    )
    for index in range(count):
        top = (index // columns) * (height + margin)
        left = (index % columns) * (width + margin)
        grid[top : top + height, left : left + width] = tiles[index]
    return grid


def colorize(gray: np.ndarray, colormap: str | None) -> np.ndarray:
    """A uint8 gray image shown through a matplotlib colormap (e.g. viridis, jet) as uint8 RGB; None keeps it."""
    if colormap is None:
        return gray
    import matplotlib

    try:
        palette = matplotlib.colormaps[colormap]
    except KeyError as error:
        raise ConfigError(
            f"colormap={colormap} is not valid: use a matplotlib colormap name (viridis, gray, jet, magma) "
            "or null for plain gray levels."
        ) from error
    table = (palette(np.arange(256))[:, :3] * 255).round().astype(np.uint8)
    return table[np.asarray(gray, dtype=np.uint8)]


def save_png(image: np.ndarray, path: Path) -> Path:
    """Write a uint8 image (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) as a PNG file; returns the path."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise TypeError(f"save_png needs uint8 pixels, got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")
    return path


def write_tensorboard(images: dict[str, np.ndarray], log_dir: Path, step: int = 0) -> Path:
    """Write each uint8 image as a TensorBoard image summary (tag = its name) into ``log_dir``.

    With TensorFlow's ``tf.summary.image`` where TensorFlow is installed; without it (a JAX or PyTorch
    install), the same summaries (PNG-encoded, the image plugin's layout) with the ``tensorboard`` package.
    """
    from dlbook.frameworks import tensorflow_available

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for tag, image in images.items():
        array = np.asarray(image, dtype=np.uint8)
        arrays[tag] = array[..., None] if array.ndim == 2 else array
    if not tensorflow_available():
        return _write_images_with_tensorboard(arrays, log_dir, step)
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for tag, array in arrays.items():
            tf.summary.image(tag, array[None], step=step)
    writer.close()
    return log_dir


def _write_images_with_tensorboard(images: dict[str, np.ndarray], log_dir: Path, step: int) -> Path:
    """The image summaries ``tf.summary.image`` writes (a tensor [width, height, PNG]), without TensorFlow."""
    import io
    import time

    from PIL import Image
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.image import metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    writer = EventFileWriter(str(log_dir))
    for tag, array in images.items():
        png = io.BytesIO()
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(png, format="PNG")
        height, width = array.shape[:2]
        tensor = tensor_util.make_tensor_proto([str(width).encode(), str(height).encode(), png.getvalue()])
        value = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor, metadata=metadata.create_summary_metadata(display_name=tag, description="")
        )
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    return log_dir
