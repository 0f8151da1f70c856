"""Benchmark: images per second of dlbook's image pipeline against the book's flow_from_directory loop.

Both read the same generated folder of Kaggle-sized JPEGs (375x500, ~25 KB each), resize to 150x150,
augment as the book's 5.2b ImageDataGenerator (rotation 40, shifts 0.2, shear 0.2, zoom 0.2,
horizontal flip, nearest fill), rescale by 1/255 and batch by 32, in the same process, interleaved
over several rounds after a warm-up epoch each. The figure per row is the median over the rounds.

- book: what Keras 2.0.8 did per epoch, as a plain Python loop: PIL decode, resize (PIL's default,
  nearest), one random affine matrix per image applied with scipy.ndimage.affine_transform (order 0,
  as Keras 2.0.8), random flip, rescale. It decoded every image again every epoch.
- dlbook, first epoch: make_image_pipeline with the layers of conf/dataset/cats_vs_dogs_augmented.yaml,
  including the one-off decoding into the in-memory cache (what every epoch would cost without it).
- dlbook, later epochs: the same pipeline's next epochs (decoding already done).

Usage: python bench/image_pipeline.py [--images 1000] [--rounds 5] [--out bench/results/image_pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMAGE_SIZE = (150, 150)
SOURCE_SIZE = (375, 500)  # height, width: the most common Kaggle image size
BATCH = 32
RESCALE = 1 / 255
# The book's ImageDataGenerator arguments (5.2b).
ROTATION_DEGREES = 40
SHIFT = 0.2
SHEAR_RADIANS = 0.2  # Keras 2.0.8 read shear_range in radians
ZOOM = 0.2


def write_images(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` smooth-plus-noise JPEGs of 375x500 (about Kaggle's 22 KB average), cat/dog alternating."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    height, width = SOURCE_SIZE
    for index in range(count):
        coarse = Image.fromarray((rng.random((12, 16, 3)) * 255).astype(np.uint8)).resize(
            (width, height), Image.BICUBIC
        )
        pixels = np.asarray(coarse).astype(np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
        path = folder / f"{('cat', 'dog')[index % 2]}.{index // 2}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=75)
        paths.append(str(path))
    return paths


def book_batches(paths: list[str], labels: np.ndarray, rng: np.random.RandomState):
    """One epoch of Keras 2.0.8's DirectoryIterator + ImageDataGenerator.random_transform, batch by batch."""
    from PIL import Image
    from scipy import ndimage

    order = rng.permutation(len(paths))
    height, width = IMAGE_SIZE
    for start in range(0, len(order), BATCH):
        indices = order[start : start + BATCH]
        batch = np.zeros((len(indices), height, width, 3), dtype=np.float32)
        for row, index in enumerate(indices):
            with Image.open(paths[index]) as image:
                image = image.convert("RGB").resize((width, height), Image.NEAREST)
                pixels = np.asarray(image, dtype=np.float32)
            batch[row] = book_random_transform(pixels, rng, ndimage) * RESCALE
        yield batch, labels[indices]


def book_random_transform(pixels: np.ndarray, rng: np.random.RandomState, ndimage) -> np.ndarray:
    """ImageDataGenerator.random_transform of Keras 2.0.8 (rows, columns, channels)."""
    height, width = pixels.shape[:2]
    theta = np.pi / 180 * rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES)
    shift_rows = rng.uniform(-SHIFT, SHIFT) * height
    shift_columns = rng.uniform(-SHIFT, SHIFT) * width
    shear = rng.uniform(-SHEAR_RADIANS, SHEAR_RADIANS)
    zoom_rows, zoom_columns = rng.uniform(1 - ZOOM, 1 + ZOOM, 2)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    shift = np.array([[1, 0, shift_rows], [0, 1, shift_columns], [0, 0, 1]])
    shearing = np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
    zoom = np.array([[zoom_rows, 0, 0], [0, zoom_columns, 0], [0, 0, 1]])
    matrix = rotation @ shift @ shearing @ zoom
    centre_rows, centre_columns = height / 2 + 0.5, width / 2 + 0.5
    to_centre = np.array([[1, 0, centre_rows], [0, 1, centre_columns], [0, 0, 1]])
    from_centre = np.array([[1, 0, -centre_rows], [0, 1, -centre_columns], [0, 0, 1]])
    matrix = to_centre @ matrix @ from_centre
    channels = [
        ndimage.affine_transform(pixels[..., channel], matrix[:2, :2], matrix[:2, 2], order=0, mode="nearest")
        for channel in range(pixels.shape[2])
    ]
    transformed = np.stack(channels, axis=-1)
    if rng.random_sample() < 0.5:
        transformed = transformed[:, ::-1]
    return transformed


def book_augmentation_layers():
    """The augmentation layers exactly as conf/dataset/cats_vs_dogs_augmented.yaml builds them."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    config = OmegaConf.load(ROOT / "conf" / "dataset" / "cats_vs_dogs_augmented.yaml")
    return list(instantiate(config.augmentation))


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def consume(dataset) -> int:
    return sum(int(images.shape[0]) for images, _ in dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "image_pipeline.json")
    parser.add_argument("--folder", type=Path, default=None, help="keep the generated JPEGs here (default: temp)")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT / "src"))
    import keras
    import tensorflow as tf

    from dlbook.datasets.io.examples import Examples
    from dlbook.datasets.io.image_pipeline import make_image_pipeline

    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or Path(temporary) / "train"
        print(f"Writing {args.images} JPEGs of {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} into {folder} ...", flush=True)
        paths = write_images(folder, args.images)
        labels = np.arange(len(paths), dtype=np.float32) % 2
        examples = Examples(np.asarray(paths), labels)
        mean_kb = statistics.mean(os.path.getsize(path) for path in paths) / 1024

        pipeline = make_image_pipeline(IMAGE_SIZE, RESCALE, "none", book_augmentation_layers())
        book_rng = np.random.RandomState(0)
        load_before = os.getloadavg()

        def book_epoch():
            assert sum(len(batch) for batch, _ in book_batches(paths, labels, book_rng)) == len(paths)

        def dlbook_first_epoch():
            dataset = pipeline(examples, BATCH, shuffle=True, seed=0, training=True)
            assert consume(dataset) == len(paths)
            return dataset

        # Warm-up: page cache for both, tracing for dlbook.
        book_epoch()
        dataset = dlbook_first_epoch()

        seconds: dict[str, list[float]] = {"book": [], "dlbook_first_epoch": [], "dlbook_later_epochs": []}
        for round_index in range(args.rounds):
            seconds["book"].append(timed(book_epoch))
            seconds["dlbook_first_epoch"].append(timed(lambda: dlbook_first_epoch()))
            seconds["dlbook_later_epochs"].append(timed(lambda: consume(dataset)))
            rates = {name: round(len(paths) / values[-1]) for name, values in seconds.items()}
            print(f"round {round_index + 1}/{args.rounds}: images/s {rates}", flush=True)

    load_after = os.getloadavg()
    rates = {name: [len(paths) / value for value in values] for name, values in seconds.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    labels_of = {
        "book": "book loop (PIL + scipy, decode every epoch)",
        "dlbook_first_epoch": "dlbook, first epoch (decode + augment)",
        "dlbook_later_epochs": "dlbook, later epochs (augment only)",
    }
    print()
    print(f"{'way':<46} {'images/s (median)':>18} {'min':>7} {'max':>7} {'x book':>7}")
    for name, label in labels_of.items():
        values = rates[name]
        ratio = medians[name] / medians["book"]
        print(f"{label:<46} {medians[name]:>18.0f} {min(values):>7.0f} {max(values):>7.0f} {ratio:>7.2f}")

    result = {
        "benchmark": "image_pipeline",
        "images": len(paths),
        "source_size": list(SOURCE_SIZE),
        "mean_file_kb": round(mean_kb, 1),
        "image_size": list(IMAGE_SIZE),
        "batch_size": BATCH,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        # Other processes on the machine skew the figures: the 1-minute load average before and after.
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "machine": platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "images_per_second": {
            name: {"median": round(medians[name], 1), "all": [round(value, 1) for value in values]}
            for name, values in rates.items()
        },
        "ratio_to_book": {name: round(medians[name] / medians["book"], 3) for name in rates},
        "steps_per_epoch": math.ceil(len(paths) / BATCH),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"(1-minute load average {load_before[0]:.2f} before, {load_after[0]:.2f} after, {os.cpu_count()} cores)")
    print(f"\nWrote {args.out}")


if __name__ == "__main__":
    main()
