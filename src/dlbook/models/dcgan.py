"""The deep convolutional GAN of book 8.5 (CIFAR-10 frogs, 32x32x3, a 32-D latent space).

``DCGAN`` is a ``keras.Model`` whose ``train_step`` does one step of the book's loop:

(a) the discriminator learns on a batch of generated images labelled 1 ("fake") and the real batch
    labelled 0 ("real"), each label plus ``0.05 * U(0, 1)`` noise, with its own
    ``RMSprop(8e-4, clipvalue=1.0)``;
(b) the generator learns, through the discriminator (whose weights do not change here), to have
    fresh generated images classified 0 ("real"), with ``RMSprop(4e-4, clipvalue=1.0)``.

The book's optimizers also had ``decay=1e-8`` (legacy Keras: lr / (1 + decay * iterations)); it is
kept here as an ``InverseTimeDecay`` schedule. The optimizer the trainer compiles with is not used.

Scaling: the book fed real images in [0, 1] while the generator ends in ``tanh`` ([-1, 1]), so the
discriminator could tell fakes by their negative pixels. ``real_range="tanh"`` (the default) maps
the real batch (in [0, 1], the dataset's ``rescale=1/255``) to [-1, 1] first; ``real_range="book"``
feeds it as the book did.

Logs: ``d_loss`` (discriminator) and ``g_loss`` (the book's "adversarial loss"); ``loss`` repeats
``g_loss``, the loss of the book's ``gan`` model, so that the trainer's history has its usual key.

The step is written once in ``keras.ops``; only the gradient is the backend's (``custom_steps.descend``:
TensorFlow's tape, ``torch.autograd.grad``, ``jax.value_and_grad``). The JAX trainer is stateless: there the
step runs in ``custom_steps.stateless_step``, and the two optimizers' variables travel in the trainer's state
as non-trainable variables of the model (they are not weights: not saved twice, not counted as parameters).

Mixed precision (``mixed_float16``): both output layers compute in float32, the losses are float32, and
each of the model's own optimizers is a LossScaleOptimizer, its loss scaled for its gradient. Several
replicas (``strategy=mirrored``): the losses are means over the global batch, and the latent vectors and
label noise are drawn for the global batch, so the replicas train as one (``custom_steps``).
"""

from __future__ import annotations

from dlbook.errors import ConfigError
from dlbook.models.custom_steps import (
    descend,
    global_draw,
    global_mean,
    loss_optimizer,
    replica_rows,
    replica_share,
    stateless_step,
)

LATENT_DIM = 32
REAL_RANGES = ("tanh", "book")
REAL, FAKE = 0.0, 1.0  # the book's label convention

_CLASSES: dict[str, type] = {}


def _check_real_range(real_range: str) -> None:
    if real_range not in REAL_RANGES:
        raise ConfigError(
            f"model.real_range={real_range!r} is not valid: tanh (real images mapped to [-1, 1], as the "
            "generator's tanh outputs) or book (real images fed in [0, 1], as the notebook did)"
        )


def build_generator(latent_dim: int = LATENT_DIM, channels: int = 3):
    """The book's generator: 32-D vector -> 32x32x3 image in [-1, 1] (6,264,579 parameters)."""
    import keras

    layers = keras.layers
    latent = keras.Input(shape=(latent_dim,), name="latent")
    x = layers.Dense(128 * 16 * 16)(latent)
    x = layers.LeakyReLU(negative_slope=0.3)(x)  # Keras 2's LeakyReLU default alpha=0.3
    x = layers.Reshape((16, 16, 128))(x)
    x = layers.Conv2D(256, 5, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Conv2D(256, 5, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Conv2D(256, 5, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    # float32 under mixed precision: the output layer (Keras' mixed-precision guide).
    image = layers.Conv2D(channels, 7, activation="tanh", padding="same", dtype="float32")(x)
    return keras.Model(latent, image, name="generator")


def build_discriminator(input_shape=(32, 32, 3), dropout: float = 0.4):
    """The book's discriminator: image -> probability that it is fake (790,913 parameters)."""
    import keras

    layers = keras.layers
    image = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(128, 3)(image)
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    for _ in range(3):
        x = layers.Conv2D(128, 4, strides=2)(x)
        x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    # float32 under mixed precision: in float16 a probability of 1 - 1e-7 is 1, and its cross-entropy infinite.
    output = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(image, output, name="discriminator")


def _optimizer(learning_rate: float, clipvalue: float | None, decay: float):
    import keras

    rate = learning_rate
    if decay:
        rate = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    return loss_optimizer(keras.optimizers.RMSprop(learning_rate=rate, clipvalue=clipvalue))


def _crossentropy(labels, predictions):
    """``keras.losses.binary_crossentropy`` (the mean over the last axis), also for the book's noisy labels
    above 1: PyTorch's kernel refuses targets outside [0, 1], so there it is Keras' own formula (the one its
    JAX backend computes: clipped probabilities, ``-(t log p + (1 - t) log(1 - p))``)."""
    import keras

    if keras.backend.backend() != "torch":
        return keras.losses.binary_crossentropy(labels, predictions)
    ops = keras.ops
    epsilon = keras.config.epsilon()
    probabilities = ops.clip(predictions, epsilon, 1.0 - epsilon)
    per_label = labels * ops.log(probabilities) + (1.0 - labels) * ops.log(1.0 - probabilities)
    return -ops.mean(per_label, axis=-1)


def _register() -> type:
    import keras

    @keras.saving.register_keras_serializable(package="dlbook")
    class DCGAN(keras.Model):
        """Generator + discriminator trained in alternation, each with its own optimizer."""

        def __init__(
            self,
            generator,
            discriminator,
            d_learning_rate: float = 8e-4,
            g_learning_rate: float = 4e-4,
            clipvalue: float | None = 1.0,
            decay: float = 1e-8,
            label_noise: float = 0.05,
            real_range: str = "tanh",
            seed: int = 0,
            **kwargs,
        ):
            super().__init__(**kwargs)
            _check_real_range(real_range)
            self.generator = generator
            self.discriminator = discriminator
            self.latent_dim = int(generator.inputs[0].shape[-1])
            self.d_learning_rate = float(d_learning_rate)
            self.g_learning_rate = float(g_learning_rate)
            self.clipvalue = None if clipvalue is None else float(clipvalue)
            self.decay = float(decay)
            self.label_noise = float(label_noise)
            self.real_range = real_range
            self.seed = int(seed)
            self.d_optimizer = _optimizer(self.d_learning_rate, self.clipvalue, self.decay)
            self.g_optimizer = _optimizer(self.g_learning_rate, self.clipvalue, self.decay)
            # Built now (not in the traced train_step), so their slots exist before the first step.
            self.d_optimizer.build(discriminator.trainable_variables)
            self.g_optimizer.build(generator.trainable_variables)
            self.seed_generator = keras.random.SeedGenerator(self.seed)
            self.d_tracker = keras.metrics.Mean(name="d_loss")
            self.g_tracker = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_tracker, self.g_tracker]

        @property
        def non_trainable_variables(self):
            variables = super().non_trainable_variables
            if keras.backend.backend() == "jax" and hasattr(self, "g_optimizer"):
                # The JAX trainer passes (and syncs back) only the model's variables and its compiled
                # optimizer's: the two optimizers of the step ride along with the model's non-trainable state.
                variables = [*variables, *self.d_optimizer.variables, *self.g_optimizer.variables]
            return variables

        def call(self, inputs, training=None):
            """Generated images for a batch of latent vectors; for a batch of images (what fit and evaluate
            feed the model, and Keras' symbolic build of the compiled metrics runs it on), the discriminator's
            probability that each is fake."""
            if len(inputs.shape) == 4:
                return self.discriminator(inputs, training=training)
            return self.generator(inputs, training=training)

        def real_images(self, images):
            """The real batch as the discriminator sees it (see ``real_range``)."""
            images = keras.ops.cast(images, "float32")
            return images * 2.0 - 1.0 if self.real_range == "tanh" else images

        def display_images(self, images):
            """Generator outputs (or real images, mapped by ``real_images``) as [0, 1] pixels for saving."""
            images = keras.ops.convert_to_numpy(images)
            if self.real_range == "tanh":
                images = (images + 1.0) / 2.0
            return images.clip(0.0, 1.0)

        def latent_batch(self, size):
            draw = lambda shape: keras.random.normal(shape, seed=self.seed_generator)  # noqa: E731
            return global_draw(draw, size, self.latent_dim)

        def _label_noise(self, size):
            """``label_noise * U(0, 1)`` for this batch's fakes and real images (``size`` of each): drawn as one
            (2 x global batch, 1) array, fakes first, as one replica draws it for its whole batch."""
            offset, global_size = replica_rows(size)
            noise = keras.random.uniform((2 * global_size, 1), seed=self.seed_generator)
            fakes = noise[offset : offset + size]
            reals = noise[global_size + offset : global_size + offset + size]
            return self.label_noise * keras.ops.concatenate([fakes, reals], axis=0)

        def discriminator_loss(self, real, training):
            """The book's d_loss: BCE of generated images labelled fake (1) and real ones labelled real (0).

            A mean over the global batch (each replica's share of it under several replicas), in float32.
            """
            size = keras.ops.shape(real)[0]
            generated = self.generator(self.latent_batch(size), training=training)
            combined = keras.ops.concatenate([keras.ops.cast(generated, "float32"), real], axis=0)
            labels = keras.ops.concatenate([keras.ops.full((size, 1), FAKE), keras.ops.full((size, 1), REAL)], axis=0)
            predictions = keras.ops.cast(self.discriminator(combined, training=training), "float32")
            return global_mean(_crossentropy(labels + self._label_noise(size), predictions))

        def generator_loss(self, size, training):
            """The book's adversarial loss: BCE of fresh generated images against the "real" label (0)."""
            generated = self.generator(self.latent_batch(size), training=training)
            predictions = keras.ops.cast(self.discriminator(generated, training=training), "float32")
            return global_mean(_crossentropy(keras.ops.full((size, 1), REAL), predictions))

        def train_step(self, *arguments):
            # JAX's trainer calls train_step(state, data) and expects (logs, state); the others train_step(data).
            if len(arguments) == 2:
                return stateless_step(self, self._train, *arguments)
            return self._train(*arguments)

        def test_step(self, *arguments):
            if len(arguments) == 2:
                return stateless_step(self, self._test, *arguments)
            return self._test(*arguments)

        def _train(self, data):
            real = self.real_images(data[0] if isinstance(data, (tuple, list)) else data)  # labels unused
            size = keras.ops.shape(real)[0]
            # (a) the discriminator only: the gradient is taken with respect to its weights alone.
            discriminator = self.discriminator.trainable_weights
            d_loss = descend(self, self.d_optimizer, discriminator, lambda: self.discriminator_loss(real, True))
            # (b) the generator only, through the (unchanged) discriminator; the book's Dropout stays
            # active here too, as in its gan.train_on_batch.
            generator = self.generator.trainable_weights
            g_loss = descend(self, self.g_optimizer, generator, lambda: self.generator_loss(size, True))
            return self._update(d_loss, g_loss)

        def _test(self, data):
            real = self.real_images(data[0] if isinstance(data, (tuple, list)) else data)
            d_loss = self.discriminator_loss(real, training=False)
            g_loss = self.generator_loss(keras.ops.shape(real)[0], training=False)
            return self._update(d_loss, g_loss)

        def _update(self, d_loss, g_loss):
            self.d_tracker.update_state(replica_share(d_loss))
            self.g_tracker.update_state(replica_share(g_loss))
            return {
                "loss": self.g_tracker.result(),
                "d_loss": self.d_tracker.result(),
                "g_loss": self.g_tracker.result(),
            }

        def get_config(self):
            return {
                **super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "d_learning_rate": self.d_learning_rate,
                "g_learning_rate": self.g_learning_rate,
                "clipvalue": self.clipvalue,
                "decay": self.decay,
                "label_noise": self.label_noise,
                "real_range": self.real_range,
                "seed": self.seed,
            }

        @classmethod
        def from_config(cls, config, custom_objects=None):
            config = dict(config)
            generator = keras.saving.deserialize_keras_object(config.pop("generator"), custom_objects=custom_objects)
            discriminator = keras.saving.deserialize_keras_object(
                config.pop("discriminator"), custom_objects=custom_objects
            )
            return cls(generator, discriminator, **config)

    return DCGAN


def dcgan_class() -> type:
    """The registered ``DCGAN`` class (built on first use)."""
    if "DCGAN" not in _CLASSES:
        _CLASSES["DCGAN"] = _register()
    return _CLASSES["DCGAN"]


def build_dcgan(
    input_shape=(32, 32, 3),
    latent_dim: int = LATENT_DIM,
    d_learning_rate: float = 8e-4,
    g_learning_rate: float = 4e-4,
    clipvalue: float | None = 1.0,
    decay: float = 1e-8,
    label_noise: float = 0.05,
    real_range: str = "tanh",
    dropout: float = 0.4,
    seed: int = 0,
):
    """The book's DCGAN for ``input_shape`` images (the generator makes 32x32: CIFAR-10's size)."""
    import keras

    _check_real_range(real_range)
    shape = tuple(int(size) for size in input_shape)
    if len(shape) != 3 or shape[:2] != (32, 32):
        raise ConfigError(
            f"the book's DCGAN makes 32x32 images, but the data has input_shape={shape}; use dataset=cifar10"
        )
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ConfigError(f"model.latent_dim={latent_dim!r} is not valid: a positive integer (the book: 32)")
    generator = build_generator(latent_dim, channels=shape[2])
    discriminator = build_discriminator(shape, dropout=dropout)
    model = dcgan_class()(
        generator,
        discriminator,
        d_learning_rate=d_learning_rate,
        g_learning_rate=g_learning_rate,
        clipvalue=clipvalue,
        decay=decay,
        label_noise=label_noise,
        real_range=real_range,
        seed=seed,
        name="dcgan",
    )
    model(keras.ops.zeros((1, latent_dim)))  # build, so that summary() and save() see every weight
    return model


def _grid(images, columns: int):
    """Images (n, h, w, c) in [0, 1] tiled into one uint8 picture, ``columns`` per row."""
    import numpy as np

    count, height, width, channels = images.shape
    rows = -(-count // columns)
    canvas = np.zeros((rows * height, columns * width, channels), dtype=np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    return np.clip(np.round(canvas * 255.0), 0, 255).astype(np.uint8)


def image_grid(directory: str, every_steps: int = 100, samples: int = 16, columns: int = 8, log_dir=None, seed=0):
    """A callback that saves generated images every ``every_steps`` training steps (book 8.5's loop).

    ``<directory>/step_NNNNN.png``: ``samples`` images generated from fixed latent vectors (the same
    ones every time, so the pictures show the generator's progress); ``<directory>/real.png``: as
    many real training images, once. ``log_dir`` (optional) also gets both as TensorBoard images.
    The last step is always saved.
    """
    from pathlib import Path

    import keras
    import numpy as np

    for option, value in (("every_steps", every_steps), ("samples", samples), ("columns", columns)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"callbacks.image_grid.{option}={value!r} is not valid: a positive integer")

    class ImageGrid(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.folder = Path(directory)
            self.step = 0
            self.saved_step = -1
            self.data = None
            self.latent = None

        def set_data(self, data) -> None:
            self.data = data  # the trainer hands over the DataSplits: the real images come from it

        def _write(self, name: str, pixels, step: int) -> None:
            from PIL import Image

            self.folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(self.folder / f"{name}.png")
            if log_dir:
                from dlbook.visualization.images import write_tensorboard

                write_tensorboard({name.split("_")[0]: pixels}, log_dir, step=step)

        def on_train_begin(self, logs=None):
            if not hasattr(self.model, "generator"):
                raise ConfigError("callbacks.image_grid needs a model with a generator (model=dcgan)")
            rng = np.random.RandomState(seed)
            self.latent = rng.normal(size=(samples, self.model.latent_dim)).astype(np.float32)
            if self.data is not None and len(self.data.train):
                real = np.asarray(self.data.train.features[:samples], dtype=np.float32)
                shown = self.model.display_images(self.model.real_images(real))
                self._write("real", _grid(shown, columns), 0)

        def _save(self) -> None:
            generated = self.model.generator.predict(self.latent, verbose=0, batch_size=samples)
            self._write(f"step_{self.step:05d}", _grid(self.model.display_images(generated), columns), self.step)
            self.saved_step = self.step

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every_steps == 0:
                self._save()

        def on_train_end(self, logs=None):
            if self.step and self.saved_step != self.step:
                self._save()

    return ImageGrid()
