"""Dogs vs. Cats (Kaggle 2013), the book's chapter 5 images: 2,000 train / 1,000 validation / 1,000 test.

Kaggle's data needs a login, so nothing is downloaded: ``path`` is either Kaggle's extracted
``train/`` folder (split as in the book into ``<cache_dir>/datasets/cats_and_dogs_small/``) or any
tree ``train/ validation/ test/`` with one sub-folder per class. Features are the file paths; the
images are decoded by the dataset's own tf.data pipeline (:mod:`dlbook.datasets.io.image_pipeline`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.datasets.io.download import cache_path
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.image_folder import (
    BOOK_CLASSES,
    ON_BAD_IMAGE_CHOICES,
    book_split,
    drop_bad_images,
    is_kaggle_folder,
    list_split,
)
from dlbook.datasets.io.image_pipeline import make_image_pipeline
from dlbook.datasets.io.limits import limit_examples
from dlbook.errors import ConfigError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

LAYOUT_CHOICES = ("auto", "kaggle", "split")
SPLIT_FOLDER = "cats_and_dogs_small"
KAGGLE_URL = "https://www.kaggle.com/c/dogs-vs-cats/data"
SPLIT_SHAPE = "a split tree (train/, validation/ and test/ folders, each with one sub-folder of images per class)"
KAGGLE_SHAPE = "Kaggle's extracted train/ folder (cat.0.jpg ... dog.12499.jpg)"


def load(
    *,
    path: str | None = None,
    cache_dir: str | None = None,
    layout: str = "auto",
    image_size: Sequence[int] = (150, 150),
    rescale: float | None = 1 / 255,
    preprocess: str = "none",
    interpolation: str = "bilinear",
    antialias: bool = False,
    augmentation: Sequence[Any] | None = None,
    on_bad_image: str = "fail",
    class_names: Sequence[str] | None = None,
) -> DataSplits:
    """Load the cats-vs-dogs images as file paths and labels, with a pipeline that decodes them.

    ``layout``: ``"kaggle"`` (``path`` is Kaggle's ``train/`` folder: the book's split is built from it
    with hard links, once, into ``<cache_dir or $KERAS_HOME>/datasets/cats_and_dogs_small/``),
    ``"split"`` (``path`` already has ``train/``, ``test/`` and optionally ``validation/``) or
    ``"auto"`` (whichever ``path`` looks like). Labels follow the sorted class folders (cats = 0,
    dogs = 1), float32 for two classes (sigmoid + binary_crossentropy), int32 otherwise.
    ``image_size``, ``rescale``, ``preprocess``, ``interpolation``, ``antialias`` and ``augmentation``
    go to :func:`dlbook.datasets.io.image_pipeline.make_image_pipeline`. Every image is checked once
    (empty or undecodable files): ``on_bad_image="fail"`` stops, ``"skip"`` leaves them out with a warning.
    """
    if layout not in LAYOUT_CHOICES:
        raise ConfigError(
            f"dataset.layout={layout} is not valid: auto, kaggle ({KAGGLE_SHAPE}) or split ({SPLIT_SHAPE})"
        )
    if on_bad_image not in ON_BAD_IMAGE_CHOICES:
        raise ConfigError(
            f"dataset.on_bad_image={on_bad_image} is not valid: fail (stop at an empty or undecodable image) "
            "or skip (leave such images out, with a warning)"
        )
    names = _class_names(class_names)
    pipeline = make_image_pipeline(
        image_size,
        rescale,
        preprocess,
        list(augmentation) if augmentation is not None else None,
        interpolation=interpolation,
        antialias=antialias,
    )
    if path is None:
        raise DatasetUnavailableError(
            "The cats-vs-dogs images need a Kaggle login, so dlbook cannot download them: sign in at "
            f"{KAGGLE_URL}, download train.zip, unzip it and pass dataset.path=/path/to/train (the folder "
            "with cat.0.jpg ... dog.12499.jpg); dlbook then builds the book's split once. Any folder tree "
            "train/ validation/ test/ with one sub-folder of images per class works too."
        )

    root = Path(str(path)).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DatasetUnavailableError(
            f"dataset.path={path} {what} (looked at {root.resolve()}). It must be {KAGGLE_SHAPE} or {SPLIT_SHAPE}."
        )
    kind = _detect_layout(root, path) if layout == "auto" else layout
    if kind == "kaggle":
        tree = book_split(root, cache_path(SPLIT_FOLDER, cache_dir))
        source = f"Kaggle's images {root}, split as in the book into {tree}"
    else:
        tree = root
        source = f"image folders under {tree}"
        if not (tree / "train").is_dir():
            raise DatasetUnavailableError(
                f"dataset.path={path} has no train/ folder, so it is not {SPLIT_SHAPE}"
                + (
                    f"; it looks like {KAGGLE_SHAPE}: set dataset.layout=kaggle (or auto)"
                    if is_kaggle_folder(root)
                    else ""
                )
            )

    splits: dict[str, Examples | None] = {}
    for split in ("train", "validation", "test"):
        folder = tree / split
        if split == "validation" and not folder.is_dir():
            logger.info("Cats vs dogs: %s has no validation/ folder; the task's own validation split applies", tree)
            splits[split] = None
            continue
        paths, labels, names = list_split(folder, names)
        # debug=fast: check and decode only the images a smoke run's few batches can use.
        paths, labels = limit_examples(paths, labels, split)
        paths, labels = drop_bad_images(paths, labels, on_bad_image)
        targets = labels.astype(np.float32) if len(names) == 2 else labels.astype(np.int32)
        splits[split] = Examples(paths, targets)

    counts = ", ".join(f"{len(examples)} {split}" for split, examples in splits.items() if examples is not None)
    logger.info("Cats vs dogs: %s images; classes %s", counts, ", ".join(names))
    height, width = pipeline.image_size
    return DataSplits(
        train=splits["train"],
        test=splits["test"],
        validation=splits["validation"],
        input_shape=(height, width, 3),
        source=source,
        info={"class_names": list(names), "num_classes": len(names)},
        make_pipeline=pipeline,
    )


def _class_names(class_names: Sequence[str] | None) -> list[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str):
        names = None
    else:
        names = [name for name in class_names if isinstance(name, str) and name]
        if len(names) != len(class_names) or len(set(names)) != len(names):
            names = None
    if names is None or len(names) < 2:
        raise ConfigError(
            f"dataset.class_names={class_names} is not valid: null (the sorted sub-folders, e.g. cats, dogs) "
            "or a list of at least two distinct sub-folder names, label 0 first"
        )
    return names


def _detect_layout(root: Path, path: Any) -> str:
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "split"
    if is_kaggle_folder(root, BOOK_CLASSES):
        return "kaggle"
    hint = ""
    if is_kaggle_folder(root / "train", BOOK_CLASSES):
        hint = f" Its train/ folder holds Kaggle's files: set dataset.path={root / 'train'}."
    raise DatasetUnavailableError(f"dataset.path={path} is neither {KAGGLE_SHAPE} nor {SPLIT_SHAPE}.{hint}")
