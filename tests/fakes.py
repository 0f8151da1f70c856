"""Small dataset files in the exact formats of Keras' files, and a local HTTP server to serve them.

The real files were written with ``np.savez``; the ragged ones (IMDB, Reuters) hold object
arrays of Python lists. Labels here depend on the content (certain words / pixel patterns), so
a short training run on these files gets above chance.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import inspect
import io
import pickle
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def _object_array(rows: list[list[int]]) -> np.ndarray:
    # np.array(rows, dtype=object) would make a 2-D array if all rows had the same length.
    array = np.empty(len(rows), dtype=object)
    for index, row in enumerate(rows):
        array[index] = row
    return array


def _texts(rng: np.random.RandomState, labels: np.ndarray, max_word: int, cue_words: np.ndarray) -> np.ndarray:
    """Random texts of raw word indices 1..max_word; each contains cue words of its label."""
    rows = []
    for label in labels:
        length = rng.randint(5, 40)
        words = rng.randint(1, max_word + 1, size=length)
        cues = rng.choice(cue_words[label], size=max(1, length // 4))
        positions = rng.choice(length, size=len(cues), replace=False)
        words[positions] = cues
        rows.append([int(word) for word in words])
    return _object_array(rows)


def imdb_cue_words(max_word: int) -> np.ndarray:
    """Raw word indices that mark a negative (row 0) or positive (row 1) fake review."""
    return np.array([np.arange(10, 20), np.arange(20, 30)]) % max_word + 1


def write_imdb_npz(path: Path, n_train: int = 200, n_test: int = 100, max_word: int = 500, seed: int = 0) -> Path:
    """An imdb.npz: x_train/x_test object arrays of int lists (raw indices from 1), y 0/1 int64."""
    rng = np.random.RandomState(seed)
    cues = imdb_cue_words(max_word)
    y_train = rng.randint(0, 2, size=n_train).astype(np.int64)
    y_test = rng.randint(0, 2, size=n_test).astype(np.int64)
    np.savez(
        path,
        x_train=_texts(rng, y_train, max_word, cues),
        y_train=y_train,
        x_test=_texts(rng, y_test, max_word, cues),
        y_test=y_test,
    )
    return Path(path)


def write_reuters_npz(path: Path, n: int = 300, num_classes: int = 46, max_word: int = 1000, seed: int = 0) -> Path:
    """A reuters.npz: x an object array of int lists, y int64 topics 0..num_classes-1."""
    rng = np.random.RandomState(seed)
    # Three cue words per topic (raw indices 1..3*num_classes, wrapped into the vocabulary).
    cues = (np.arange(num_classes * 3).reshape(num_classes, 3) % max_word) + 1
    y = rng.randint(0, num_classes, size=n).astype(np.int64)
    np.savez(path, x=_texts(rng, y, max_word, cues), y=y)
    return Path(path)


def write_mnist_npz(path: Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """A mnist.npz: uint8 images (n, 28, 28) with a bright band at a row set by the digit; uint8 labels."""
    rng = np.random.RandomState(seed)

    def images(labels: np.ndarray) -> np.ndarray:
        pixels = rng.randint(0, 60, size=(len(labels), 28, 28))
        for index, label in enumerate(labels):
            pixels[index, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        return pixels.astype(np.uint8)

    y_train = rng.randint(0, 10, size=n_train).astype(np.uint8)
    y_test = rng.randint(0, 10, size=n_test).astype(np.uint8)
    np.savez(path, x_train=images(y_train), y_train=y_train, x_test=images(y_test), y_test=y_test)
    return Path(path)


def write_boston_npz(path: Path) -> Path:
    """A boston_housing.npz as Keras ships it (keys x, y; float64), made from mlxtend's 506 real rows."""
    from mlxtend.data import boston_housing_data

    features, targets = boston_housing_data()
    np.savez(path, x=np.asarray(features, dtype=np.float64), y=np.asarray(targets, dtype=np.float64))
    return Path(path)


def assert_config_matches(name: str, load) -> None:
    """conf/dataset/<name>.yaml targets ``load`` and spells out every argument with its default."""
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(OmegaConf.load(Path(__file__).parent.parent / "conf" / "dataset" / f"{name}.yaml"))
    assert config.pop("_target_") == f"{load.__module__}.{load.__name__}"
    defaults = {key: parameter.default for key, parameter in inspect.signature(load).parameters.items()}
    assert config == defaults


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder, records each requested path, logs nothing."""

    def __init__(self, *args, request_log: list[str], **kwargs) -> None:
        self._request_log = request_log
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._request_log.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - overrides the base signature
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (ephemeral port) while the block runs.

    Yields ``(base_url, request_log)``: the URL without a trailing slash and the list of
    requested paths (e.g. ``["/imdb.npz"]``), appended as requests arrive.
    """
    request_log: list[str] = []
    handler = functools.partial(_QuietHandler, request_log=request_log, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", request_log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# CIFAR-10 (python version): cifar-10-batches-py/data_batch_1..5 and test_batch, pickled dicts.
PER_BATCH = 20  # images per fake batch: 100 training and 20 test images


def _batch(index: int, count: int = PER_BATCH) -> dict:
    """A batch dict as CIFAR-10 has it: bytes keys, uint8 (n, 3072) data, a list of labels."""
    labels = [(index + row) % 10 for row in range(count)]
    # Every pixel of an image holds its label (red plane) and 100 + label (green) so order can be checked.
    data = np.zeros((count, 3, 32 * 32), dtype=np.uint8)
    data[:, 0] = np.array(labels, dtype=np.uint8)[:, None]
    data[:, 1] = 100 + np.array(labels, dtype=np.uint8)[:, None]
    return {
        b"batch_label": f"batch {index}".encode(),
        b"labels": labels,
        b"data": data.reshape(count, 3072),
        b"filenames": [f"img_{index}_{row}.png".encode() for row in range(count)],
    }


def _add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def write_cifar_archive(path: Path, replace: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None):
    """cifar-10-python.tar.gz with data_batch_1..5 and test_batch (protocol-2 pickles, as Keras' file)."""
    members = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps(_batch(i), protocol=2) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(_batch(0), protocol=2)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [b"airplane"]}, protocol=2)
    members.update(replace or {})
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            _add(archive, name, payload)
    return path


def residual_convnet():
    """A functional convnet whose block adds its input back (as ResNet and Xception do), ending in softmax:
    conv_a, conv_b (inside the residual block), add, conv_c, gap, scores (4 classes). Seeded."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv_c")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="scores")(x))
