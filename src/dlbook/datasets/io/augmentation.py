"""The book's ImageDataGenerator augmentation as one Keras layer: one affine matrix, one resampling.

Keras 3 has no ImageDataGenerator. Chaining its RandomRotation, RandomTranslation, RandomShear and
RandomZoom layers resamples each image four times (slow on a CPU, and blurrier); this layer draws
the book's random transform per image — rotation, shifts, shear, zoom, then a horizontal flip —
composes the matrix exactly as Keras 2.0.8's ``ImageDataGenerator.random_transform`` did (about the
image centre, ``h/2 + 0.5``), and resamples once with ``keras.ops.image.affine_transform``.

Semantics of the book's Keras 2.0.8: ``rotation_range`` in degrees, shifts as fractions of the
height and width, ``shear_range`` in radians (degrees only from Keras 2.1.3), zoom factors drawn
independently for rows and columns in ``[1 - zoom_range, 1 + zoom_range]``, nearest-neighbour
resampling (scipy ``order=0``) with ``fill_mode="nearest"``.
"""

from __future__ import annotations

from types import SimpleNamespace

_CLASSES: dict[str, type] = {}


def _operations(backend) -> SimpleNamespace:
    """The few operations the augmentation uses, from ``keras.ops`` or from one Keras backend module."""
    if backend is None:  # the run's backend, through keras.ops
        from keras import ops

        numpy, core, image = ops, ops, ops.image
    else:
        numpy, core, image = backend.numpy, backend.core, backend.image
    return SimpleNamespace(
        shape=core.shape,
        cast=core.cast,
        cos=numpy.cos,
        sin=numpy.sin,
        stack=numpy.stack,
        zeros_like=numpy.zeros_like,
        where=numpy.where,
        flip=numpy.flip,
        affine_transform=image.affine_transform,
    )


def _tensorflow_operations() -> SimpleNamespace:
    """TensorFlow's operations, whatever the run's backend: inside tf.data every tensor is TensorFlow's
    (Keras' own preprocessing layers switch to its TensorFlow backend there the same way)."""
    from keras.src.backend import tensorflow as tensorflow_backend

    return _operations(tensorflow_backend)


def _layer_class():
    import keras

    @keras.saving.register_keras_serializable(package="dlbook")
    class BookAugmentation(keras.layers.Layer):
        """Random affine augmentation of image batches, as the book's ImageDataGenerator (see the module doc)."""

        def __init__(
            self,
            rotation_range: float = 0.0,
            width_shift_range: float = 0.0,
            height_shift_range: float = 0.0,
            shear_range: float = 0.0,
            zoom_range: float = 0.0,
            horizontal_flip: bool = False,
            fill_mode: str = "nearest",
            interpolation: str = "nearest",
            seed: int | None = None,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.rotation_range = float(rotation_range)
            self.width_shift_range = float(width_shift_range)
            self.height_shift_range = float(height_shift_range)
            self.shear_range = float(shear_range)
            self.zoom_range = float(zoom_range)
            self.horizontal_flip = bool(horizontal_flip)
            self.fill_mode = fill_mode
            self.interpolation = interpolation
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def transforms(self, uniforms, height, width, ops=None):
            """The (batch, 8) projective transforms (output pixel -> input pixel, x = column, y = row).

            ``uniforms`` holds 6 draws in [0, 1) per image: rotation, row shift, column shift, shear,
            row zoom, column zoom. ``ops``: the operations to use (default: ``keras.ops``).
            """
            ops = ops or _operations(None)

            def spread(column, low, high):
                return low + (high - low) * uniforms[:, column]

            theta = spread(0, -self.rotation_range, self.rotation_range) * (3.141592653589793 / 180.0)
            shift_rows = spread(1, -self.height_shift_range, self.height_shift_range) * height
            shift_cols = spread(2, -self.width_shift_range, self.width_shift_range) * width
            shear = spread(3, -self.shear_range, self.shear_range)
            zoom_rows = spread(4, 1.0 - self.zoom_range, 1.0 + self.zoom_range)
            zoom_cols = spread(5, 1.0 - self.zoom_range, 1.0 + self.zoom_range)
            cos, sin = ops.cos(theta), ops.sin(theta)
            # M = rotation @ shift @ shear @ zoom in (row, col) coordinates, as ImageDataGenerator built it.
            m00 = cos * zoom_rows
            m01 = (-cos * ops.sin(shear) - sin * ops.cos(shear)) * zoom_cols
            m10 = sin * zoom_rows
            m11 = (-sin * ops.sin(shear) + cos * ops.cos(shear)) * zoom_cols
            m02 = cos * shift_rows - sin * shift_cols
            m12 = sin * shift_rows + cos * shift_cols
            # About the centre: offset @ M @ reset, with the centre at (h/2 + 0.5, w/2 + 0.5) as in Keras 2.
            center_row, center_col = height / 2 + 0.5, width / 2 + 0.5
            t02 = m02 + center_row - m00 * center_row - m01 * center_col
            t12 = m12 + center_col - m10 * center_row - m11 * center_col
            zeros = ops.zeros_like(m00)
            # input (row, col) = T (row, col, 1); with x = col, y = row:
            # x' = m11 x + m10 y + t12 and y' = m01 x + m00 y + t02.
            return ops.stack([m11, m10, t12, m01, m00, t02, zeros, zeros], axis=1)

        def augment(self, images, uniforms, ops=None):
            """Transform (and flip) ``images`` with the 7 per-image draws in ``uniforms`` (the 7th: the flip)."""
            ops = ops or _operations(None)
            shape = ops.shape(images)
            height, width = ops.cast(shape[1], "float32"), ops.cast(shape[2], "float32")
            transformed = ops.affine_transform(
                ops.cast(images, "float32"),
                self.transforms(uniforms, height, width, ops),
                interpolation=self.interpolation,
                fill_mode=self.fill_mode,
            )
            if self.horizontal_flip:
                flip = uniforms[:, 6] < 0.5
                transformed = ops.where(flip[:, None, None, None], ops.flip(transformed, axis=2), transformed)
            return transformed

        def call(self, images, training=True):
            if not training:
                return images
            uniforms = keras.random.uniform((keras.ops.shape(images)[0], 7), seed=self.seed_generator)
            return self.augment(images, uniforms)

        def call_stateless(self, images, seed):
            """``call`` with the draws taken from a ``[2]`` int seed tensor: tf.data can then augment
            several batches in parallel and still give the same images for the same seeds."""
            import tensorflow as tf

            uniforms = tf.random.stateless_uniform(tf.stack([tf.shape(images)[0], 7]), seed=seed)
            return self.augment(images, uniforms, _tensorflow_operations())

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {
                **super().get_config(),
                "rotation_range": self.rotation_range,
                "width_shift_range": self.width_shift_range,
                "height_shift_range": self.height_shift_range,
                "shear_range": self.shear_range,
                "zoom_range": self.zoom_range,
                "horizontal_flip": self.horizontal_flip,
                "fill_mode": self.fill_mode,
                "interpolation": self.interpolation,
                "seed": self.seed,
            }

    return BookAugmentation


def book_augmentation(**settings):
    """A ``BookAugmentation`` layer (``_target_`` of the YAML configs; the class is built on first use)."""
    if "BookAugmentation" not in _CLASSES:
        _CLASSES["BookAugmentation"] = _layer_class()
    return _CLASSES["BookAugmentation"](**settings)
