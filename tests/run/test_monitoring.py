"""Callbacks of book 7.2 (dlbook.run.monitoring): activations, learning rate, embedding projector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlbook.errors import ConfigError
from dlbook.run.monitoring import (
    activation_logger,
    embedding_projector,
    learning_rate_logger,
    metadata_rows,
    read_word_index,
)


def _dataset(inputs, targets, batch_size=8):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)


def _small_model():
    import keras

    inputs = keras.Input(shape=(6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.003), loss="binary_crossentropy")
    return model


def _data(count=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 6)).astype("float32"), rng.integers(0, 2, size=(count, 1)).astype("float32")


def test_activation_logger_writes_one_npz_per_epoch_with_every_layer(tmp_path):
    features, targets = _data()
    model = _small_model()
    logger = activation_logger(str(tmp_path / "activations"), layers=None, samples=3)
    validation = _dataset(features, targets)
    logger.set_validation_data(validation)
    model.fit(_dataset(features, targets), validation_data=validation, epochs=2, callbacks=[logger], verbose=0)

    files = sorted(path.name for path in (tmp_path / "activations").iterdir())
    assert files == ["epoch_001.npz", "epoch_002.npz"]
    with np.load(tmp_path / "activations" / "epoch_002.npz") as saved:
        assert sorted(saved.files) == ["hidden", "out"]
        assert saved["hidden"].shape == (3, 5)
        assert saved["out"].shape == (3, 1)
        expected = model.predict_on_batch(features[:3])
        np.testing.assert_allclose(saved["out"], expected, rtol=1e-5)


def test_activation_logger_handles_several_inputs_and_chosen_layers(tmp_path):
    import keras

    left = keras.Input(shape=(4,), name="left")
    right = keras.Input(shape=(3,), name="right")
    joined = keras.layers.Concatenate(name="joined")([left, right])
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(joined)
    model = keras.Model({"left": left, "right": right}, outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    inputs = {"left": rng.normal(size=(16, 4)).astype("float32"), "right": rng.normal(size=(16, 3)).astype("float32")}
    targets = rng.integers(0, 2, size=16)
    logger = activation_logger(str(tmp_path), layers=["joined"], samples=2)
    logger.set_validation_data(_dataset(inputs, targets))
    model.fit(_dataset(inputs, targets), epochs=1, callbacks=[logger], verbose=0)

    with np.load(tmp_path / "epoch_001.npz") as saved:
        assert saved.files == ["joined"]
        assert saved["joined"].shape == (2, 7)


def test_activation_logger_names_the_available_layers_for_an_unknown_one(tmp_path):
    features, targets = _data(8)
    model = _small_model()
    logger = activation_logger(str(tmp_path), layers=["conv1"])
    logger.set_validation_data(_dataset(features, targets))
    with pytest.raises(ConfigError) as error:
        model.fit(_dataset(features, targets), epochs=1, callbacks=[logger], verbose=0)
    assert "'conv1'" in str(error.value) and "hidden" in str(error.value) and "out" in str(error.value)


def test_activation_logger_refuses_a_bad_sample_count(tmp_path):
    with pytest.raises(ConfigError, match="samples=0"):
        activation_logger(str(tmp_path), samples=0)


def test_learning_rate_logger_puts_the_learning_rate_in_the_history():
    features, targets = _data()
    model = _small_model()
    history = model.fit(_dataset(features, targets), epochs=2, callbacks=[learning_rate_logger()], verbose=0).history
    assert history["learning_rate"] == pytest.approx([0.003, 0.003])


def _embedding_model(vocabulary_size=12):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Embedding(vocabulary_size, 4, name="embed"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid", name="dense"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def _projected(folder):
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), projector.ProjectorConfig())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(folder)))
    return config, reader


def test_embedding_projector_writes_checkpoint_config_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    words = rng.integers(0, 12, size=(16, 5))
    labels = rng.integers(0, 2, size=(16, 1)).astype("float32")
    model = _embedding_model()
    callback = embedding_projector(str(tmp_path), layers=["embed"], every=2)
    model.fit(_dataset(words, labels), epochs=3, callbacks=[callback], verbose=0)

    folder = tmp_path / "projector"
    config, reader = _projected(folder)
    (embedding,) = config.embeddings
    assert embedding.metadata_path == "metadata.tsv"
    assert (folder / embedding.metadata_path).read_text().splitlines() == [str(index) for index in range(12)]
    # The checkpoint holds the layer's final weights under the name the config gives.
    np.testing.assert_allclose(reader.get_tensor(embedding.tensor_name), model.get_layer("embed").embeddings.numpy())
    # An event file makes the folder a TensorBoard run (where the projector looks for its config).
    assert list(folder.glob("events.out.tfevents.*"))


def test_embedding_projector_labels_rows_with_the_vocabulary_or_the_word_index(tmp_path):
    word_index = tmp_path / "imdb_word_index.json"
    word_index.write_text(json.dumps({"the": 1, "and": 2}))
    assert metadata_rows(6, word_index=read_word_index(word_index)) == ["<pad>", "<start>", "<oov>", "3", "the", "and"]
    assert metadata_rows(3, vocabulary=["", "[UNK]", "a\tb"]) == ["<0>", "[UNK]", "a b"]

    model = _embedding_model(vocabulary_size=3)
    callback = embedding_projector(str(tmp_path / "logs"))

    class Data:
        info = {"vocabulary": ["", "[UNK]", "movie"]}

    callback.set_data(Data())
    model.fit(
        _dataset(np.zeros((4, 5), "int32"), np.zeros((4, 1), "float32")), epochs=1, callbacks=[callback], verbose=0
    )
    assert (tmp_path / "logs" / "projector" / "metadata.tsv").read_text().splitlines() == ["<0>", "[UNK]", "movie"]


def test_embedding_projector_refuses_a_layer_that_is_not_an_embedding(tmp_path):
    model = _embedding_model()
    callback = embedding_projector(str(tmp_path), layers=["dense"])
    data = _dataset(np.zeros((4, 5), "int32"), np.zeros((4, 1), "float32"))
    with pytest.raises(ConfigError, match="'dense' is a Dense, not an Embedding"):
        model.fit(data, epochs=1, callbacks=[callback], verbose=0)
