"""A tf.data pipeline from image files to batches: decode and resize once, then shuffle, augment, scale.

What ``flow_from_directory`` did per epoch (decode every JPEG, resize, transform, rescale) is split
in two: decoding and resizing happen once, when the pipeline is made (once per fit), into one uint8
tensor of all images in file order; every epoch then shuffles *indices* into it and gathers batches.
So epochs after the first cost only augmentation and scaling, and shuffling still differs each epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.datasets.io.examples import Examples
from dlbook.errors import ConfigError, DatasetFormatError

PREPROCESS_CHOICES = ("none", "vgg16")
INTERPOLATION_CHOICES = ("bilinear", "nearest", "bicubic", "area", "lanczos3")
# Images decoded per step when the pipeline is made (bounds the temporary memory of one step).
DECODE_BATCH = 256


@dataclass(frozen=True)
class ImagePipeline:
    """The ``DataSplits.make_pipeline`` of image datasets, whose features are image file paths.

    Build it with :func:`make_image_pipeline` (which checks the settings).
    """

    image_size: tuple[int, int]
    rescale: float | None
    preprocess: str
    interpolation: str
    antialias: bool
    augmentation: tuple[Any, ...] = ()

    def settings(self) -> dict[str, Any]:
        """The settings that decide the pixels of the un-augmented images (e.g. for a feature cache key)."""
        return {
            "image_size": list(self.image_size),
            # preprocess=vgg16 replaces rescale, so rescale does not matter then.
            "rescale": self.rescale if self.preprocess == "none" else None,
            "preprocess": self.preprocess,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
        }

    def __call__(
        self, examples: Examples, batch_size: int, *, shuffle: bool, seed: int | None = None, training: bool = False
    ):
        """A ``tf.data.Dataset`` of ``(images, targets)`` batches over ``examples`` (features: file paths).

        ``shuffle`` reshuffles every epoch from ``seed``; ``training`` applies the augmentation layers.
        Images are float32 ``(batch, height, width, 3)``; targets keep the dtype of ``examples.targets``.
        """
        import tensorflow as tf

        images = self.decode(examples.features)
        with tf.device("/CPU:0"):
            targets = tf.constant(examples.targets)

        def gather(indices):
            return tf.gather(images, indices), tf.gather(targets, indices)

        dataset = tf.data.Dataset.range(len(examples))
        if shuffle and len(examples):
            dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if training and self.augmentation and all(hasattr(layer, "call_stateless") for layer in self.augmentation):
            # Layers that take their random draws from a given seed (BookAugmentation) augment several
            # batches in parallel: each batch gets a seed pair from a seeded stream, new every epoch.
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
            dataset = tf.data.Dataset.zip((dataset, seeds)).map(
                self._augment_stateless, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        elif training and self.augmentation:
            # One call at a time: the layers draw from their own seed state, so parallel calls would
            # take the draws in a random order. _augment parallelises inside each batch instead.
            dataset = dataset.map(self._augment)
        dataset = dataset.map(self._scale, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def decode(self, paths: Sequence[str] | np.ndarray):
        """All images of ``paths`` decoded (3 channels) and resized, as one uint8 tensor on the CPU."""
        import tensorflow as tf

        height, width = self.image_size
        with tf.device("/CPU:0"):
            if len(paths) == 0:
                return tf.zeros([0, height, width, 3], tf.uint8)
            files = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str))
            decoded = files.map(self._load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            try:
                parts = list(decoded.batch(DECODE_BATCH))
            except tf.errors.OpError as error:
                raise DatasetFormatError(_decode_failure(paths, error)) from error
            return tf.concat(parts, axis=0)

    def _load(self, path):
        import tensorflow as tf

        contents = tf.io.read_file(path)
        # INTEGER_ACCURATE is libjpeg's default (ISLOW): the pixels equal PIL's (TF's default differs by a few levels).
        image = tf.cond(
            tf.io.is_jpeg(contents),
            lambda: tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.io.decode_image(contents, channels=3, expand_animations=False),
        )
        image.set_shape([None, None, 3])
        resized = tf.image.resize(image, self.image_size, method=self.interpolation, antialias=self.antialias)
        return tf.cast(tf.clip_by_value(tf.round(tf.cast(resized, tf.float32)), 0.0, 255.0), tf.uint8)

    def _augment(self, images, targets):
        import tensorflow as tf

        images = tf.cast(images, tf.float32)
        # Each layer draws per-image parameters, so slicing the batch changes no distribution; the slices'
        # transforms run in parallel while their seed draws stay in program order (deterministic).
        slices = _augment_slices()
        step = (tf.shape(images)[0] + slices - 1) // slices
        parts = []
        for index in range(slices):
            part = images[index * step : (index + 1) * step]
            for layer in self.augmentation:
                part = layer(part, training=True)
            parts.append(part)
        return tf.concat(parts, axis=0), targets

    def _augment_stateless(self, batch, seeds):
        import tensorflow as tf

        images, targets = batch
        images = tf.cast(images, tf.float32)
        for index, layer in enumerate(self.augmentation):
            images = layer.call_stateless(images, seeds + index)
        return images, targets

    def _scale(self, images, targets):
        import tensorflow as tf

        images = tf.cast(images, tf.float32)
        if self.preprocess == "vgg16":
            import keras

            # Caffe style, as the ImageNet weights expect: RGB -> BGR, minus the ImageNet mean pixel.
            images = keras.applications.vgg16.preprocess_input(images)
        elif self.rescale is not None:
            images = images * self.rescale
        return images, targets


def make_image_pipeline(
    image_size: Sequence[int],
    rescale: float | None = 1 / 255,
    preprocess: str = "none",
    augmentation: Sequence[Any] | None = None,
    *,
    interpolation: str = "bilinear",
    antialias: bool = False,
) -> ImagePipeline:
    """Check the image settings and return the pipeline function (``DataSplits.make_pipeline``).

    ``image_size``: ``(height, width)`` every image is resized to; ``rescale``: factor applied to the
    0-255 pixels (``null``: none); ``preprocess``: ``"none"`` or ``"vgg16"`` (VGG16's caffe-style
    ``preprocess_input`` on 0-255 pixels, instead of ``rescale``); ``augmentation``: built Keras
    preprocessing layers applied in order to training batches; ``interpolation`` and ``antialias``:
    the resize method (``tf.image.resize``).
    """
    size = _image_size(image_size)
    if rescale is not None and (isinstance(rescale, bool) or not isinstance(rescale, (int, float)) or rescale <= 0):
        raise ConfigError(
            f"dataset.rescale={rescale} is not valid: a positive factor for the 0-255 pixels "
            "(0.00392156862745098 = 1/255, as the book) or null (keep 0-255)"
        )
    if preprocess not in PREPROCESS_CHOICES:
        raise ConfigError(
            f"dataset.preprocess={preprocess} is not valid: none (rescale only, as the book) or vgg16 "
            "(keras.applications.vgg16.preprocess_input, what the ImageNet weights expect; replaces rescale)"
        )
    if interpolation not in INTERPOLATION_CHOICES:
        raise ConfigError(
            f"dataset.interpolation={interpolation} is not valid: one of {', '.join(INTERPOLATION_CHOICES)}"
        )
    if not isinstance(antialias, bool):
        raise ConfigError(f"dataset.antialias={antialias} is not valid: true or false")
    layers = tuple(augmentation) if augmentation is not None else ()
    for index, layer in enumerate(layers):
        if not callable(layer):
            raise ConfigError(
                f"dataset.augmentation[{index}]={layer!r} is not valid: each entry must be a Keras "
                "preprocessing layer, e.g. {_target_: keras.layers.RandomFlip, mode: horizontal}"
            )
    return ImagePipeline(
        image_size=size,
        rescale=None if rescale is None else float(rescale),
        preprocess=preprocess,
        interpolation=interpolation,
        antialias=antialias,
        augmentation=layers,
    )


def _image_size(image_size: Any) -> tuple[int, int]:
    try:
        values = list(image_size) if not isinstance(image_size, (str, bytes)) else None
    except TypeError:
        values = None
    if (
        values is None
        or len(values) != 2
        or not all(isinstance(value, (int, np.integer)) and not isinstance(value, bool) for value in values)
        or min(values) < 1
    ):
        raise ConfigError(
            f"dataset.image_size={image_size} is not valid: [height, width], two positive integers, e.g. [150, 150]"
        )
    return int(values[0]), int(values[1])


def _augment_slices() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _decode_failure(paths: Sequence[str], error: Exception) -> str:
    """Name the first file that TensorFlow cannot decode (only looked for after a failure)."""
    import tensorflow as tf

    for path in paths:
        try:
            tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
        except tf.errors.OpError as file_error:
            return (
                f"TensorFlow cannot decode the image {path} ({file_error.message}). Delete or replace it; "
                "dataset.on_bad_image=skip leaves out the files that PIL cannot decode."
            )
    return f"TensorFlow failed to decode the images: {getattr(error, 'message', error)}"
