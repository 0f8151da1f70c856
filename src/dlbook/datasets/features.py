"""Features of a frozen convolutional base (book 5.3a, "fast feature extraction"), computed once and cached.

The images of an image dataset config go once through the base (``predict``, no augmentation); the
outputs are flattened (VGG16 at 150x150: 4x4x512 -> 8,192) and cached in
``<cache_dir or $KERAS_HOME>/dlbook_features/<key>.npz``. The key is a sha256 of the base config, the
image settings and every image file (path, size, modification time), so any change there is a miss
and a later run with the same inputs reads the file without building the base. A base with random
weights (``weights: null``) is never cached: its outputs depend on the run's seed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.datasets.io.download import keras_home
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

CACHE_FOLDER = "dlbook_features"
KEY_FORMAT = 1
SPLITS = ("train", "validation", "test")


def load(
    *,
    images: Any,
    base: Any,
    path: str | None = None,
    cache_dir: str | None = None,
    batch_size: int = 20,
) -> DataSplits:
    """The flattened outputs of ``base`` on the images of ``images``, as float32 feature arrays.

    ``images`` is an image dataset config (``_target_`` e.g. ``dlbook.datasets.cats_vs_dogs.load``)
    and ``base`` a model config (e.g. ``keras.applications.VGG16`` with ``include_top: false``); the
    config uses ``_recursive_: false`` and both are instantiated here, the base only on a cache miss.
    ``path`` (when set) replaces ``images.path``; ``cache_dir`` holds the feature cache and, unless
    ``images.cache_dir`` is set, the images' own cache. ``batch_size`` is the batch of ``predict``.
    """
    from hydra.utils import instantiate

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"dataset.batch_size={batch_size} is not valid: a positive integer, e.g. 20")
    images_config = _plain_config(images, "dataset.images")
    base_config = _plain_config(base, "dataset.base")
    if path is not None:
        images_config["path"] = path
    if cache_dir is not None and images_config.get("cache_dir") is None:
        images_config["cache_dir"] = cache_dir

    data = instantiate(images_config)
    pipeline = data.make_pipeline
    if not callable(getattr(pipeline, "settings", None)):
        raise ConfigError(
            f"dataset.images._target_={images_config['_target_']} is not valid: it must load image files "
            "(a DataSplits with an image pipeline), e.g. dlbook.datasets.cats_vs_dogs.load"
        )
    splits = {name: examples for name, examples in _splits(data).items() if examples is not None}
    key = feature_key(base_config, pipeline.settings(), splits)
    root = Path(os.path.expanduser(str(cache_dir))) if cache_dir else keras_home()
    file = root / CACHE_FOLDER / f"{key}.npz"

    # A base with random weights (weights: null) depends on the run's seed, which the key cannot see.
    cacheable = not ("weights" in base_config and base_config["weights"] is None)
    features = _read_cache(file, splits) if cacheable else None
    hit = features is not None
    if hit:
        logger.info("Features: cache hit, reading %s", file)
    else:
        if cacheable:
            logger.info("Features: cache miss, computing the base's outputs into %s", file)
        else:
            logger.info("Features: the base has random weights (dataset.base.weights=null): computing, not caching")
        model = _build_base(base_config)
        features = {name: _extract(model, pipeline, examples, batch_size, name) for name, examples in splits.items()}
        if cacheable:
            _write_cache(file, features)

    def examples_of(name: str) -> Examples | None:
        return Examples(features[name], splits[name].targets) if name in splits else None

    cached = f"cached in {file}" if cacheable else "not cached"
    return DataSplits(
        train=examples_of("train"),
        test=examples_of("test"),
        validation=examples_of("validation"),
        input_shape=(int(features["train"].shape[1]),),
        source=f"{base_config.get('_target_')} features ({cached}) of {data.source}",
        differs_from_book=data.differs_from_book,
        info={
            "feature_cache": str(file) if cacheable else None,
            "cache_hit": hit,
            "class_names": data.info.get("class_names"),
        },
    )


def feature_key(base_config: dict, image_settings: dict, splits: dict[str, Examples]) -> str:
    """sha256 of the base config, the image settings and each split's files (path, size, mtime)."""
    files = {}
    for name, examples in splits.items():
        rows = []
        for file_path in examples.features:
            stat = os.stat(file_path)
            rows.append([str(file_path), stat.st_size, stat.st_mtime_ns])
        files[name] = rows
    description = {"format": KEY_FORMAT, "base": base_config, "images": image_settings, "files": files}
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain_config(config: Any, key: str) -> dict:
    """A resolved plain-dict copy of a DictConfig or dict with a ``_target_``."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    if not isinstance(config, dict) or "_target_" not in config:
        raise ConfigError(
            f"{key}={config!r} is not valid: a config with a _target_ (see conf/dataset/vgg16_features.yaml)"
        )
    return json.loads(json.dumps(config, default=str))


def _splits(data: DataSplits) -> dict[str, Examples | None]:
    return {"train": data.train, "validation": data.validation, "test": data.test}


def _build_base(base_config: dict):
    from hydra.utils import instantiate

    try:
        return instantiate(base_config, _convert_="all")
    except Exception as error:
        reason = _download_failure(error)
        if reason is None:
            raise
        raise DatasetUnavailableError(
            f"Cannot download the weights of the feature base dataset.base._target_={base_config['_target_']} "
            f"({reason}). Keras keeps downloaded weights in {keras_home() / 'models'}: copy the weights file "
            "there from a machine with internet access (for VGG16 without top: "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5), or set dataset.base.weights=null "
            "for random weights (only useful for trying the pipeline)."
        ) from error


def _download_failure(error: BaseException | None) -> str | None:
    """The reason when ``error`` (or an error behind it) is Keras' failed download, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if "URL fetch failure" in str(error):
            return str(error)
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _extract(model, pipeline, examples: Examples, batch_size: int, name: str) -> np.ndarray:
    dataset = pipeline(examples, batch_size, shuffle=False, training=False)
    outputs = model.predict(dataset, verbose=0)
    features = np.asarray(outputs, dtype=np.float32).reshape(len(examples), -1)
    logger.info("Features: %s: %d images -> %s", name, len(examples), features.shape)
    return features


def _read_cache(file: Path, splits: dict[str, Examples]) -> dict[str, np.ndarray] | None:
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as arrays:
            features = {name: arrays[name] for name in splits}
    except Exception as error:  # a damaged file is a miss, recomputed and replaced
        logger.warning("Features: cannot read the cache %s (%s); computing it again", file, error)
        return None
    for name, examples in splits.items():
        array = features[name]
        if array.ndim != 2 or len(array) != len(examples) or array.dtype != np.float32:
            logger.warning("Features: the cache %s does not fit the images (%s); computing it again", file, name)
            return None
    return features


def _write_cache(file: Path, features: dict[str, np.ndarray]) -> None:
    """Write atomically: a reader sees the old file, no file, or the complete new one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            np.savez(stream, **features)
        os.replace(temporary, file)
    finally:
        if temporary.exists():
            temporary.unlink()
