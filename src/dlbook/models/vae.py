"""The convolutional variational autoencoder of book 8.4 (MNIST, a 2-D latent space).

The model is a ``keras.Model`` subclass whose ``call`` returns the decoded image and adds the KL term as a
loss (the book added it with a custom layer's ``add_loss`` and compiled with ``loss=None``); its
``compute_loss`` is the book's loss: per-pixel-mean binary crossentropy plus ``5e-4`` x the mean KL
divergence. Each backend's own trainer (TensorFlow, JAX, PyTorch) takes the gradient, so the VAE trains on
all three. The trainer's batches are ``(images, labels)``; the labels are ignored.

Sampling: ``z = z_mean + exp(0.5 * z_log_var) * eps`` (``sampling="correct"``, the default) draws
from the Gaussian the KL term assumes, ``z_log_var`` being a log-variance. The book's notebook used
``exp(z_log_var)`` as the standard deviation (``sampling="book"``); its numbers were measured so.

Mixed precision (``trainer.mixed_precision=mixed_float16``): the layers compute in float16 except the
encoder's ``z_mean`` / ``z_log_var`` and the decoder's output, which stay float32 (Keras' mixed-precision
guide: in float16, 1 - 1e-7 rounds to 1, so a sigmoid output would give log(0) on pixels of 1.0); the loss
is float32 and the trainer scales it (LossScaleOptimizer). Several replicas (``strategy=mirrored``): the loss
is the mean over the global batch and the sampling noise is drawn for the global batch (``custom_steps``).

Classes are built lazily (no Keras import on module import) and registered under the
``dlbook`` package so that ``model.keras`` reloads in Keras' safe mode.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

SAMPLING_CHOICES = ("correct", "book")
# The book's weight of the KL term (``-5e-4 * K.mean(1 + z_log_var - ...)``).
KL_WEIGHT = 5e-4

_CLASSES: dict[str, type] = {}


def _check_sampling(sampling: str) -> None:
    if sampling not in SAMPLING_CHOICES:
        raise ConfigError(
            f"model.sampling={sampling!r} is not valid: correct (z = mean + exp(0.5*log_var)*eps) or "
            "book (the notebook's z = mean + exp(log_var)*eps)"
        )


def _register() -> type:
    import keras

    from dlbook.models.custom_steps import global_draw, global_mean, replica_share

    @keras.saving.register_keras_serializable(package="dlbook")
    class VAE(keras.Model):
        """Encoder (image -> z_mean, z_log_var), sampling, decoder (z -> image), with the book's loss."""

        def __init__(self, encoder, decoder, sampling: str = "correct", kl_weight: float = KL_WEIGHT, **kwargs):
            super().__init__(**kwargs)
            _check_sampling(sampling)
            self.encoder = encoder
            self.decoder = decoder
            self.sampling = sampling
            self.kl_weight = float(kl_weight)
            self.latent_dim = int(decoder.inputs[0].shape[-1])
            self.seed_generator = keras.random.SeedGenerator(0)
            # Reset by Keras at every epoch because `metrics` lists them.
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

        def sample(self, z_mean, z_log_var):
            # float32 whatever the layers compute in: the noise is float32, and so is the KL term.
            z_mean, z_log_var = keras.ops.cast(z_mean, "float32"), keras.ops.cast(z_log_var, "float32")
            epsilon = global_draw(
                lambda shape: keras.random.normal(shape, seed=self.seed_generator),
                keras.ops.shape(z_mean)[0],
                self.latent_dim,
            )
            scale = z_log_var if self.sampling == "book" else 0.5 * z_log_var
            return z_mean + keras.ops.exp(scale) * epsilon

        def call(self, inputs, training=None):
            """The decoded image of a sample of the encoded one; adds the KL term (as the book's layer did)."""
            z_mean, z_log_var = self.encoder(inputs, training=training)
            z_mean, z_log_var = keras.ops.cast(z_mean, "float32"), keras.ops.cast(z_log_var, "float32")
            kl = -self.kl_weight * keras.ops.mean(
                1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=-1
            )
            # Each backend's trainer hands the losses added in call() to compute_loss (JAX's statelessly).
            self.add_loss(global_mean(kl))
            return self.decoder(self.sample(z_mean, z_log_var), training=training)

        def loss_parts(self, images, decoded):
            """(total, reconstruction, KL) of the book for ``decoded = self(images)``, the KL being the loss the
            call added: means over the (global) batch, in float32.

            Under several replicas each replica returns its share (its sum / the global batch size): the
            replicas' gradients are summed, so the update is the one of the mean over the global batch.
            """
            flat_images = keras.ops.reshape(keras.ops.cast(images, "float32"), (keras.ops.shape(images)[0], -1))
            flat_decoded = keras.ops.reshape(keras.ops.cast(decoded, "float32"), (keras.ops.shape(decoded)[0], -1))
            # keras.metrics.binary_crossentropy averages over the last axis: the per-pixel mean.
            reconstruction = global_mean(keras.losses.binary_crossentropy(flat_images, flat_decoded))
            kl = sum(keras.ops.cast(loss, "float32") for loss in self.losses)
            return reconstruction + kl, reconstruction, kl

        def losses_of(self, images, training=False):
            """(total, reconstruction, KL) of the book on ``images`` (one forward pass)."""
            return self.loss_parts(images, self(images, training=training))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            """The book's loss, for each backend's own train and test steps (labels ``y`` are not used).

            The trainer takes its gradient, scales it in mixed precision (LossScaleOptimizer) and, on JAX,
            runs it statelessly; the trackers updated here are the logged metrics.
            """
            total, reconstruction, kl = self.loss_parts(x[0] if isinstance(x, (tuple, list)) else x, y_pred)
            self.loss_tracker.update_state(replica_share(total))
            self.reconstruction_tracker.update_state(replica_share(reconstruction))
            self.kl_tracker.update_state(replica_share(kl))
            return total

        def get_config(self):
            return {
                **super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "sampling": self.sampling,
                "kl_weight": self.kl_weight,
            }

        @classmethod
        def from_config(cls, config, custom_objects=None):
            config = dict(config)
            encoder = keras.saving.deserialize_keras_object(config.pop("encoder"), custom_objects=custom_objects)
            decoder = keras.saving.deserialize_keras_object(config.pop("decoder"), custom_objects=custom_objects)
            return cls(encoder, decoder, **config)

    return VAE


def vae_class() -> type:
    """The registered ``VAE`` class (built on first use)."""
    if "VAE" not in _CLASSES:
        _CLASSES["VAE"] = _register()
    return _CLASSES["VAE"]


def build_vae(input_shape, latent_dim: int = 2, sampling: str = "correct", kl_weight: float = KL_WEIGHT):
    """The book's VAE for images of ``input_shape`` (28x28x1 for MNIST: 550,629 parameters)."""
    import keras

    _check_sampling(sampling)
    shape = tuple(int(size) for size in input_shape)
    if len(shape) != 3 or shape[0] % 2 or shape[1] % 2:
        raise ConfigError(
            f"the VAE needs images of even height and width (height, width, channels), got input_shape={shape}; "
            "for MNIST set dataset.flatten=false"
        )
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ConfigError(f"model.latent_dim={latent_dim!r} is not valid: a positive integer (the book: 2)")
    height, width, channels = shape

    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(image)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", strides=2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    # float32 under mixed precision: the sampling and the KL term work on them.
    z_mean = keras.layers.Dense(latent_dim, name="z_mean", dtype="float32")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var", dtype="float32")(x)
    encoder = keras.Model(image, [z_mean, z_log_var], name="encoder")

    z = keras.Input(shape=(latent_dim,), name="z")
    y = keras.layers.Dense((height // 2) * (width // 2) * 64, activation="relu")(z)
    y = keras.layers.Reshape((height // 2, width // 2, 64))(y)
    y = keras.layers.Conv2DTranspose(32, 3, padding="same", activation="relu", strides=2)(y)
    # The output layer in float32 under mixed precision (see the module's docstring).
    decoded = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32")(y)
    decoder = keras.Model(z, decoded, name="decoder")

    model = vae_class()(encoder, decoder, sampling=sampling, kl_weight=kl_weight, name="vae")
    model(keras.ops.zeros((1, *shape)))  # build, so that summary() and save() see every weight
    return model


def latent_grid_image(decoder, size: int = 15, digit_size: int = 28) -> np.ndarray:
    """The book's figure: decoded images over ``norm.ppf(linspace(0.05, 0.95, size))`` in both latent axes.

    Returns a (size*digit_size, size*digit_size) float array in [0, 1] (channels averaged for colour).
    Other latent dimensions than the first two stay 0 (the prior's mean).
    """
    from scipy.stats import norm

    latent_dim = int(decoder.inputs[0].shape[-1])
    output_shape = tuple(decoder.outputs[0].shape[1:])
    if output_shape[:2] != (digit_size, digit_size):
        raise ConfigError(
            f"callbacks.latent_grid.digit_size={digit_size} does not match the decoder's {output_shape[0]}x"
            f"{output_shape[1]} images; set it to {output_shape[0]}"
        )
    grid = norm.ppf(np.linspace(0.05, 0.95, size))
    latent = np.zeros((size * size, latent_dim), dtype=np.float32)
    # Row i takes grid[i] on the second axis, column j grid[j] on the first, as the book's loops.
    latent[:, 0] = np.tile(grid, size)
    if latent_dim > 1:
        latent[:, 1] = np.repeat(grid, size)
    digits = np.asarray(decoder.predict(latent, verbose=0, batch_size=size * size)).mean(axis=-1)
    figure = digits.reshape(size, size, digit_size, digit_size).transpose(0, 2, 1, 3)
    return figure.reshape(size * digit_size, size * digit_size)


def latent_grid(directory: str, size: int = 15, digit_size: int = 28, log_dir: str | None = None):
    """A callback that, at the end of training, writes the book's latent grid to ``<directory>/latent_grid.png``.

    ``log_dir`` (optional) also gets it as a TensorBoard image named ``latent_grid``.
    """
    import keras

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"callbacks.latent_grid.size={size!r} is not valid: a positive integer (the book: 15)")

    class LatentGrid(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.path = Path(directory) / "latent_grid.png"

        def on_train_end(self, logs=None):
            decoder = getattr(self.model, "decoder", None)
            if decoder is None:
                raise ConfigError("callbacks.latent_grid needs a model with a decoder (model=vae)")
            figure = latent_grid_image(decoder, size, digit_size)
            pixels = np.clip(np.round(figure * 255.0), 0, 255).astype(np.uint8)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            from PIL import Image

            Image.fromarray(pixels, mode="L").save(self.path)
            log.info("latent grid: %s", self.path)
            if log_dir:
                from dlbook.visualization.images import write_tensorboard

                step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) if self.model.optimizer else 0
                write_tensorboard({"latent_grid": pixels}, log_dir, step=step)

    return LatentGrid()
