"""Boston housing prices (506 suburbs, 13 features, median value in k$): Keras' 404 / 102 split.

Works offline: without ``dataset.path`` or a cached Keras file, the data comes from the copy that
mlxtend installs (the same 506 rows in the same order), split exactly as Keras splits its file.
"""

from __future__ import annotations

import logging

import numpy as np

from dlbook.datasets.io.download import cached, fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.safe_npz import load_npz
from dlbook.errors import ConfigError, DatasetFormatError

logger = logging.getLogger("dlbook")

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"
FNAME = "boston_housing.npz"
SOURCE_CHOICES = ("auto", "keras", "bundled")
BUNDLED_SOURCE = "mlxtend's bundled copy (same 506 rows as Keras' file)"


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    source: str = "auto",
    test_split: float = 0.2,
    seed: int = 113,
    normalize: bool = True,
) -> DataSplits:
    """Load Boston housing split as ``keras.datasets.boston_housing.load_data`` splits it.

    ``source``: ``"auto"`` uses ``path`` if given, else Keras' file if it is already cached,
    else mlxtend's copy (never downloads); ``"keras"`` uses ``path`` or the Keras file
    (downloading it if needed); ``"bundled"`` uses mlxtend's copy. The rows are shuffled with
    ``np.random.RandomState(seed)`` and the first ``int(n * (1 - test_split))`` are for training.
    ``normalize`` z-scores each feature with the training mean and std (applied to both splits,
    as in the book). Features and targets are float32.
    """
    if source not in SOURCE_CHOICES:
        raise ConfigError(
            f"dataset.source={source} is not valid: one of {', '.join(SOURCE_CHOICES)} (auto: dataset.path, "
            "else a cached Keras file, else mlxtend's copy; keras: the Keras file, downloaded if needed; "
            "bundled: mlxtend's copy)"
        )
    if source == "bundled" and path is not None:
        raise ConfigError(
            f"dataset.path={path} is not valid with dataset.source=bundled, which reads mlxtend's copy: "
            "set dataset.source=auto (or keras) to read the file, or dataset.path=null"
        )
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 <= test_split < 1:
        raise ConfigError(f"dataset.test_split={test_split} is not valid: a fraction in [0, 1), e.g. 0.2")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"dataset.seed={seed} is not valid: an integer >= 0")
    if not isinstance(normalize, bool):
        raise ConfigError(f"dataset.normalize={normalize} is not valid: true or false")

    features, targets, description = _read(
        source=source, path=path, origin=origin, file_hash=file_hash, cache_dir=cache_dir
    )
    logger.info("Boston housing: data from %s", description)

    order = np.arange(len(features))
    np.random.RandomState(seed).shuffle(order)
    features, targets = features[order], targets[order]
    num_train = int(len(features) * (1 - test_split))
    train_x, test_x = features[:num_train], features[num_train:]
    train_y, test_y = targets[:num_train], targets[num_train:]

    info: dict = {"num_features": features.shape[1]}
    if normalize:
        mean = train_x.mean(axis=0)
        std = train_x.std(axis=0)
        # A constant feature would divide by zero; leave it centred instead.
        std = np.where(std > 0, std, 1.0)
        train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
        info.update(feature_mean=mean.tolist(), feature_std=std.tolist())

    return DataSplits(
        train=Examples(train_x.astype(np.float32), train_y.astype(np.float32)),
        test=Examples(test_x.astype(np.float32), test_y.astype(np.float32)),
        input_shape=(features.shape[1],),
        source=description,
        info=info,
    )


def _read(
    *, source: str, path: str | None, origin: str, file_hash: str | None, cache_dir: str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """The 506 rows in the original order, and a description of where they came from."""
    if source == "bundled":
        return (*_bundled(), BUNDLED_SOURCE)
    if source == "auto" and path is None:
        file = cached(FNAME, cache_dir)
        if file is None:
            return (*_bundled(), BUNDLED_SOURCE)
        logger.info("Boston housing: using cached %s", file)
    else:
        file = fetch("Boston housing", fname=FNAME, origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
    arrays = load_npz(file, required=("x", "y"))
    features, targets = np.asarray(arrays["x"], dtype=np.float64), np.asarray(arrays["y"], dtype=np.float64)
    if features.ndim != 2 or targets.shape != (len(features),):
        raise DatasetFormatError(
            f"{file}: x has shape {features.shape} and y {targets.shape}, expected (n, features) and (n,)"
        )
    return features, targets, f"Keras file {file}"


def _bundled() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import boston_housing_data

    features, targets = boston_housing_data()
    return np.asarray(features, dtype=np.float64), np.asarray(targets, dtype=np.float64).reshape(-1)
