"""Small JPEG folders in the shapes of Kaggle's Dogs vs. Cats files, made with PIL.

Cats have horizontal stripes and dogs vertical ones (plus noise), so a short training run on these
images gets above chance, and flips, small shifts and rotations keep the classes apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

SPLITS = ("train", "validation", "test")
CLASS_NAMES = ("cats", "dogs")

# How many times tiny_base() built a model (feature-cache tests check that a hit builds none).
BASE_BUILDS = {"count": 0}


def class_image(label: int, size: Sequence[int] = (32, 32), seed: int = 0) -> np.ndarray:
    """An RGB uint8 image (height, width, 3): stripes along rows for label 0, along columns for label 1."""
    height, width = size
    rng = np.random.default_rng(seed)
    period = max(2, min(height, width) // 8)
    rows, columns = np.mgrid[0:height, 0:width]
    stripes = ((rows if label == 0 else columns) // period) % 2
    colour = rng.integers(60, 200, size=3)
    pixels = stripes[..., None] * colour + rng.normal(0, 12, size=(height, width, 3)) + 30
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_image(path: Path, pixels: np.ndarray, quality: int = 92) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=quality)
    return path


def write_kaggle_train(folder: Path, per_class: int, size: Sequence[int] = (32, 32), start: int = 0) -> Path:
    """Kaggle's extracted train/ folder: cat.<n>.jpg and dog.<n>.jpg for n in start..start+per_class-1."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(start, start + per_class):
        for label, prefix in enumerate(("cat", "dog")):
            write_image(folder / f"{prefix}.{number}.jpg", class_image(label, size, seed=2 * number + label))
    return folder


def write_split_tree(
    folder: Path,
    per_class_per_split: int | Mapping[str, int],
    size: Sequence[int] = (32, 32),
    class_names: Sequence[str] = CLASS_NAMES,
) -> Path:
    """A tree <split>/<class>/<class>.<n>.jpg; ``per_class_per_split`` is one count or a count per split."""
    folder = Path(folder)
    counts = (
        per_class_per_split if isinstance(per_class_per_split, Mapping) else dict.fromkeys(SPLITS, per_class_per_split)
    )
    seed = 0
    for split, count in counts.items():
        for label, name in enumerate(class_names):
            (folder / split / name).mkdir(parents=True, exist_ok=True)
            for number in range(count):
                seed += 1
                pixels = class_image(label % 2, size, seed=seed)
                write_image(folder / split / name / f"{name}.{number}.jpg", pixels)
    return folder


def tiny_base(input_shape: Sequence[int], filters: int = 4):
    """A small convolutional base (a stand-in for VGG16 in tests) that counts its builds."""
    import keras

    BASE_BUILDS["count"] += 1
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            keras.layers.Conv2D(filters, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
        ]
    )
