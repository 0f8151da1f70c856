"""Callbacks that watch a model while it trains (book 7.2): activations, learning rate, embedding projector.

Each public function here is a factory named in a ``callbacks`` preset (conf/callbacks/) and returns a
fresh Keras callback; the classes are built inside the factories so that importing this module does
not import TensorFlow. The trainer hands every callback that defines ``set_validation_data`` the fit's
validation pipeline (the book's callbacks read ``self.validation_data``, which Keras 3 no longer sets).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

PROJECTOR_FOLDER = "projector"
METADATA_FILE = "metadata.tsv"
# Keras' imdb.load_data(index_from=3): 0 pads, 1 starts a review, 2 is an out-of-vocabulary word.
IMDB_RESERVED = ("<pad>", "<start>", "<oov>")


def _layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers]


def _select_layers(model, names: Sequence[str] | None, option: str) -> list:
    """The model's layers called ``names`` (all top-level layers but inputs for None), with a helpful error."""
    import keras

    if names is None:
        return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(names, str):
        names = [names]
    by_name = {layer.name: layer for layer in model.layers}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ConfigError(
            f"{option}={list(names)} is not valid: the model has no layer named {', '.join(map(repr, unknown))}. "
            f"Its layers are: {', '.join(_layer_names(model))}."
        )
    return [by_name[name] for name in names]


def _first_rows(structure: Any, count: int) -> Any:
    """The first ``count`` examples of a batch of inputs (one array, or a list/tuple/dict of them)."""
    if isinstance(structure, dict):
        return {key: _first_rows(value, count) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_first_rows(value, count) for value in structure)
    return np.asarray(structure)[:count]


def activation_logger(directory: str, layers: Sequence[str] | None = None, samples: int = 1):
    """The book's ActivationLogger: each epoch, save layer outputs on a validation sample as an .npz.

    ``directory`` gets ``epoch_001.npz``, ``epoch_002.npz`` ... (epochs numbered from 1, as in history.csv),
    one array per layer keyed by the layer's name (``name_0``, ``name_1`` ... for layers with several
    outputs). ``layers``: layer names, or None for every layer (as the book). ``samples``: how many
    examples from the start of the first validation batch (the book used one).
    """
    import keras

    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise ConfigError(f"callbacks.activation_logger.samples={samples} is not valid: an integer >= 1")

    class ActivationLogger(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.directory = Path(directory)
            self.sample = None
            self.activations_model = None
            self.output_names: list[str] = []

        def set_validation_data(self, validation_data) -> None:
            """Keep the inputs of the first ``samples`` examples of the first validation batch."""
            batch = next(iter(validation_data))
            inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
            self.sample = _first_rows(keras.tree.map_structure(keras.ops.convert_to_numpy, inputs), samples)

        def _build(self) -> None:
            chosen = _select_layers(self.model, layers, "callbacks.activation_logger.layers")
            outputs = []
            for layer in chosen:
                try:
                    output = layer.output
                except (AttributeError, ValueError) as error:  # a shared layer has no single output
                    if layers is not None:
                        raise ConfigError(
                            f"callbacks.activation_logger.layers: layer {layer.name!r} has no single output "
                            f"to log ({error})."
                        ) from error
                    log.warning("activation_logger: skipping layer %s (%s)", layer.name, error)
                    continue
                flat = keras.tree.flatten(output)
                names = [layer.name] if len(flat) == 1 else [f"{layer.name}_{index}" for index in range(len(flat))]
                outputs.extend(flat)
                self.output_names.extend(names)
            if not outputs:
                raise ConfigError("callbacks.activation_logger: the model has no layer output to log.")
            self.activations_model = keras.Model(self.model.inputs, outputs)

        def on_epoch_end(self, epoch, logs=None):
            if self.sample is None:
                log.warning("activation_logger: this fit has no validation data, so no activations are logged")
                return
            if self.activations_model is None:
                self._build()
            activations = self.activations_model.predict_on_batch(self.sample)
            if not isinstance(activations, (list, tuple)):
                activations = [activations]
            self.directory.mkdir(parents=True, exist_ok=True)
            arrays = {name: np.asarray(value) for name, value in zip(self.output_names, activations, strict=True)}
            np.savez(self.directory / f"epoch_{epoch + 1:03d}.npz", **arrays)

    return ActivationLogger()


def current_learning_rate(model) -> dict[str, float]:
    """The optimizer's learning rate now (``learning_rate``; one per optimizer for a multi-optimizer)."""
    import keras

    optimizer = model.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer wraps the real one
    if hasattr(optimizer, "optimizers"):
        return {
            f"learning_rate_{inner.name}": float(keras.ops.convert_to_numpy(inner.learning_rate))
            for inner in optimizer.optimizers
        }
    return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}


def learning_rate_logger():
    """Add the optimizer's learning rate to each epoch's logs (so to history.csv as ``learning_rate``).

    Keras' TensorBoard callback already writes ``epoch_learning_rate`` to its train scalars, and
    ReduceLROnPlateau adds it to the logs; this callback makes the column appear in history.csv for
    every run that enables it, whatever else is configured. Keras passes one logs dict to all
    callbacks and then to its History, so the value is written in place.
    """
    import keras

    class LearningRateLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs.update(current_learning_rate(self.model))

    return LearningRateLogger()


def read_word_index(path: str | Path, index_from: int = 3) -> dict[int, str]:
    """Keras' ``imdb_word_index.json`` (word -> rank) as model index -> word (rank + ``index_from``)."""
    import json

    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"callbacks.embedding_projector.word_index={path} is not valid: no such file. Give Keras' "
            "imdb_word_index.json (keras.datasets.imdb.get_word_index() downloads it) or null for numbers."
        )
    ranks = json.loads(file.read_text(encoding="utf-8"))
    return {int(rank) + index_from: word for word, rank in ranks.items()}


def metadata_rows(count: int, vocabulary: Sequence[str] | None = None, word_index: dict[int, str] | None = None):
    """One label per embedding row: the vocabulary's word, the word index's word, else the row number."""
    rows = []
    for index in range(count):
        if vocabulary is not None and index < len(vocabulary):
            word = vocabulary[index]
        elif word_index is not None:
            word = IMDB_RESERVED[index] if index < len(IMDB_RESERVED) else word_index.get(index, str(index))
        else:
            word = str(index)
        # The projector reads one label per line; tabs and newlines inside a label would split it.
        rows.append(str(word).replace("\t", " ").replace("\n", " ") or f"<{index}>")
    return rows


def write_projector(
    log_dir: str | Path, embeddings: dict[str, np.ndarray], labels: dict[str, list[str]], step: int
) -> Path:
    """Save embedding matrices as a TF checkpoint with projector_config.pbtxt and metadata files.

    Everything goes to ``<log_dir>/projector/`` together with a small event file, so that TensorBoard
    lists the folder as a run and its projector tab shows the embeddings with their labels.
    """
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    folder = Path(log_dir) / PROJECTOR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    config = projector.ProjectorConfig()
    variables = {}
    for name, matrix in embeddings.items():
        key = name.replace("/", "_")
        variables[key] = tf.Variable(matrix, name=key)
        metadata_file = f"{key}_{METADATA_FILE}" if len(embeddings) > 1 else METADATA_FILE
        (folder / metadata_file).write_text("\n".join(labels[name]) + "\n", encoding="utf-8")
        embedding = config.embeddings.add()
        # The name tf.train.Checkpoint gives a variable stored under attribute `key`.
        embedding.tensor_name = f"{key}/.ATTRIBUTES/VARIABLE_VALUE"
        embedding.metadata_path = metadata_file
    checkpoint = tf.train.Checkpoint(**variables)
    # The projector reads the newest checkpoint of the folder (the `checkpoint` file names it).
    checkpoint.save(str(folder / "embeddings.ckpt"))
    (folder / "projector_config.pbtxt").write_text(text_format.MessageToString(config), encoding="utf-8")
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        tf.summary.text("embeddings", f"layers {', '.join(embeddings)}; {len(next(iter(labels.values())))}", step=step)
    writer.close()
    return folder


def embedding_projector(
    log_dir: str,
    layers: Sequence[str] | None = None,
    every: int = 1,
    word_index: str | None = None,
    vocabulary: Sequence[str] | None = None,
):
    """TensorBoard's embedding projector for Embedding layers (the book's ``embeddings_freq=1``).

    Keras 3's TensorBoard(embeddings_freq=...) writes a projector config naming a TensorFlow checkpoint
    but saves the weights as .weights.h5, so the projector finds nothing; this callback writes a real
    checkpoint every ``every`` epochs (and after the last one) to ``<log_dir>/projector/``. ``layers``:
    Embedding layer names (None: all Embedding layers). Labels (metadata.tsv, one per row): ``vocabulary``
    (or the dataset's ``info["vocabulary"]`` when the trainer calls ``set_data``), else Keras'
    imdb_word_index.json at ``word_index``, else the row numbers.
    """
    import keras

    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ConfigError(f"callbacks.embedding_projector.every={every} is not valid: an integer >= 1 (epochs)")

    class EmbeddingProjector(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.vocabulary = list(vocabulary) if vocabulary is not None else None
            self.word_index = read_word_index(word_index) if word_index else None
            self.written_epoch = None
            self.last_epoch = None

        def set_data(self, data) -> None:
            """Take the dataset's vocabulary (``data.info["vocabulary"]``) as labels, when it has one."""
            found = (getattr(data, "info", None) or {}).get("vocabulary")
            if found is not None and self.vocabulary is None:
                self.vocabulary = [str(word) for word in found]

        def _layers(self) -> list:
            if layers is not None:
                return _select_layers(self.model, layers, "callbacks.embedding_projector.layers")
            return [layer for layer in self.model.layers if isinstance(layer, keras.layers.Embedding)]

        def write(self, epoch: int) -> None:
            chosen = self._layers()
            if not chosen:
                log.warning("embedding_projector: the model has no Embedding layer; nothing to project")
                return
            embeddings, labels = {}, {}
            for layer in chosen:
                if not isinstance(layer, keras.layers.Embedding):
                    raise ConfigError(
                        f"callbacks.embedding_projector.layers: {layer.name!r} is a {type(layer).__name__}, "
                        "not an Embedding layer."
                    )
                matrix = keras.ops.convert_to_numpy(layer.embeddings)
                embeddings[layer.name] = matrix
                labels[layer.name] = metadata_rows(len(matrix), self.vocabulary, self.word_index)
            write_projector(log_dir, embeddings, labels, step=epoch)
            self.written_epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            self.last_epoch = epoch
            if (epoch + 1) % every == 0:
                self.write(epoch)

        def on_train_end(self, logs=None):
            # The last epoch's embeddings are projected even when it is not a multiple of `every`
            # (or when early stopping ended the fit in between).
            if self.last_epoch is not None and self.written_epoch != self.last_epoch:
                self.write(self.last_epoch)

    return EmbeddingProjector()
