"""Photos as a "dataset", for tasks that transform images instead of learning from examples.

Book 8.2 (DeepDream) starts from one photo and 8.3 (neural style transfer) from two. The loader
reads each photo named in ``images`` (config key -> path; null: a photo bundled with scikit-image,
so nothing is downloaded) and returns a :class:`DataSplits` whose ``info["images"]`` maps each key
to its uint8 RGB array. The train and test splits hold the first photo as a one-row batch, only so
that the run log and the generic code around tasks have something to count.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DlbookError

# Colour photos that ship inside scikit-image's wheel (skimage.data loads them without a download).
BUNDLED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def bundled_photo(name: str, key: str) -> np.ndarray:
    """scikit-image's bundled photo ``name`` as uint8 RGB; ``key`` names the config entry in errors."""
    if name not in BUNDLED_PHOTOS:
        raise ConfigError(
            f"dataset.bundled.{key}={name!r} is not valid: use one of scikit-image's bundled photos "
            f"({', '.join(BUNDLED_PHOTOS)})."
        )
    try:
        from skimage import data
    except ImportError as error:
        raise DlbookError(
            f"{key}=null uses a photo bundled with scikit-image, which is not installed: "
            f"`pip install scikit-image`, or give a photo of your own with {key}=<path to a JPEG or PNG>."
        ) from error
    return np.asarray(getattr(data, name)(), dtype=np.uint8)


def read_photo(path: str | Path, key: str) -> np.ndarray:
    """The JPEG or PNG file at ``path`` as uint8 RGB; errors name the config key ``key``."""
    from dlbook.visualization.images import load_image

    if not Path(path).is_file():
        raise ConfigError(
            f"{key}={path} is not valid: no such file. Give the path of a JPEG or PNG photo "
            f"(relative to the folder you run dlbook in), or {key}=null for a photo bundled with scikit-image."
        )
    try:
        return load_image(path)
    except ConfigError as error:  # its message names `image=`; say which key was wrong instead
        raise ConfigError(f"{key}={path} is not valid: it cannot be read as a JPEG or PNG image.") from error


def load(images: Mapping[str, str | None], bundled: Mapping[str, str] | None = None) -> DataSplits:
    """Read every photo of ``images`` (key -> path or None); None takes ``bundled[key]`` (default chelsea)."""
    if not images:
        raise ConfigError("dataset.images is empty: name at least one photo, e.g. dataset.images={image: null}.")
    bundled = dict(bundled or {})
    arrays: dict[str, np.ndarray] = {}
    sources = []
    for key, path in images.items():
        if path is None:
            name = bundled.get(key, "chelsea")
            arrays[key] = bundled_photo(name, key)
            sources.append(f"{key}: scikit-image's bundled photo {name!r}")
        else:
            arrays[key] = read_photo(path, key)
            sources.append(f"{key}: {path}")
        sources[-1] += " ({}x{})".format(*arrays[key].shape[:2])
    first = next(iter(arrays.values()))
    # One example (the first photo) per split: the tasks use info["images"], not these rows.
    split = Examples(first[None], np.zeros(1, dtype=np.float32))
    own = [key for key, path in images.items() if path is not None]
    return DataSplits(
        train=split,
        test=split,
        input_shape=first.shape,
        source="; ".join(sources),
        info={"images": arrays},
        # The book's numbers come from its own photos, which dlbook does not ship: a bundled photo (or any
        # other) gives a different loss, so such a run is never compared with the book's number.
        differs_from_book=(
            f"{'your own photos' if own else 'scikit-image bundled photos'}, not the book's (its numbers "
            "depend on the photo)"
        ),
    )
