"""strategy=mirrored with the custom training steps: two replicas train exactly as one.

Each replica computes its loss on its half of the global batch and the optimizer sums the replicas'
gradients; a replica that averaged over its own half would double the update. Emulated on the CPU split
into two logical devices (TensorFlow fixes its devices once per process, so in a subprocess): the VAE and a
small DCGAN (the book's training step) train N steps on the same global batches under one replica and under
a two-replica MirroredStrategy, from the same weights and seeds; their weights must agree within 1e-5.
Plain SGD, whose update is proportional to the gradient (RMSprop's is nearly scale-free, so it would hide
a doubled gradient). The DCGAN has no dropout here (each replica draws its own dropout masks).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HARNESS = textwrap.dedent(
    """
    import json

    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras

    from dlbook.models.dcgan import dcgan_class
    from dlbook.models.vae import build_vae

    STEPS, GLOBAL_BATCH = 3, 8


    def tiny_dcgan():
        latent = keras.Input((8,))
        x = keras.layers.Reshape((8, 8, 8))(keras.layers.Dense(8 * 8 * 8)(latent))
        x = keras.layers.LeakyReLU(0.3)(keras.layers.Conv2DTranspose(8, 4, strides=4, padding="same")(x))
        generator = keras.Model(latent, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x))
        inputs = keras.Input((32, 32, 3))
        y = keras.layers.Flatten()(keras.layers.LeakyReLU(0.3)(keras.layers.Conv2D(8, 4, strides=4)(inputs)))
        discriminator = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(y))
        model = dcgan_class()(generator, discriminator, seed=5)
        model(keras.ops.zeros((1, 8)))
        # Plain SGD for the model's own two optimizers (see the test's docstring).
        model.d_optimizer = keras.optimizers.SGD(0.05)
        model.g_optimizer = keras.optimizers.SGD(0.05)
        model.d_optimizer.build(discriminator.trainable_variables)
        model.g_optimizer.build(generator.trainable_variables)
        return model


    def build(kind):
        model = build_vae((28, 28, 1)) if kind == "vae" else tiny_dcgan()
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        return model


    def images(kind):
        rng = np.random.RandomState(0)
        shape = (28, 28, 1) if kind == "vae" else (32, 32, 3)
        return (rng.uniform(size=(STEPS * GLOBAL_BATCH, *shape)) > 0.7).astype(np.float32)


    def train(kind, strategy, initial):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = build(kind)
            model.set_weights(initial)
        data = tf.data.Dataset.from_tensor_slices(images(kind)).batch(GLOBAL_BATCH)
        history = model.fit(data, epochs=1, verbose=0, shuffle=False).history
        return model.get_weights(), {key: float(values[-1]) for key, values in history.items()}


    result = {}
    for kind in ("vae", "dcgan"):
        keras.utils.set_random_seed(0)
        initial = build(kind).get_weights()
        one, one_logs = train(kind, tf.distribute.get_strategy(), initial)
        # Gradients summed on one device: TensorFlow's collective all-reduce between two logical CPUs can
        # launch its packs in a different order on each (a shape mismatch); the sum is the same either way.
        mirrored = tf.distribute.MirroredStrategy(
            ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
        two, two_logs = train(kind, mirrored, initial)
        result[kind] = {
            "replicas": mirrored.num_replicas_in_sync,
            "max_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(one, two)),
            "max_change": max(float(np.max(np.abs(a - b))) for a, b in zip(one, initial)),
            "one": one_logs,
            "two": two_logs,
        }
    print(json.dumps(result))
    """
)


def test_two_replicas_update_the_vae_and_the_dcgan_as_one_replica_does(tmp_path):
    done = subprocess.run([sys.executable, "-c", HARNESS], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for kind in ("vae", "dcgan"):
        figures = result[kind]
        assert figures["replicas"] == 2
        assert figures["max_change"] > 1e-3, figures  # the weights did move
        assert figures["max_difference"] < 1e-5, (kind, figures)
        for key, value in figures["one"].items():  # and the logged losses are the global batch's
            assert abs(figures["two"][key] - value) < 1e-4 * max(1.0, abs(value)), (kind, key, figures)
