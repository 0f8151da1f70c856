"""CIFAR-10 (50,000 train / 10,000 test colour images, 32x32x3, 10 classes), Keras' ``cifar-10-python.tar.gz``.

The archive holds ``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5`` and ``test_batch``:
Python pickles of dicts whose ``b"data"`` is a uint8 (n, 3072) array (the red, then green, then
blue 32x32 planes of each image) and ``b"labels"`` a list of class numbers. A pickle can run any
code, so these are read with an unpickler that only rebuilds NumPy arrays and plain data; the
archive is read in memory (nothing is extracted), and an archive with a member path outside its
folder (absolute, or with ``..``) is refused as tampered.

Book 8.5 trains its GAN on the 5,000 training frogs: ``class_index=6``.
"""

from __future__ import annotations

import codecs
import io
import logging
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.safe_npz import ARRAY_GLOBALS, RestrictedUnpickler
from dlbook.errors import ConfigError, DatasetFormatError

log = logging.getLogger("dlbook")

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FNAME = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1"): allow that only.
    if encoding not in ("latin1", "latin-1") or errors != "strict" or not isinstance(text, str):
        raise DatasetFormatError(f"refusing _codecs.encode(..., {encoding!r}) in a CIFAR-10 batch")
    return codecs.encode(text, "latin1")


_ALLOWED = {**ARRAY_GLOBALS, ("_codecs", "encode"): _latin1_encode}


def read_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 32, 32, 3), labels int32 (n,)) of one pickled batch."""
    try:
        # encoding="bytes", as keras.datasets.cifar10: the Python 2 strings stay bytes (keys b"data").
        batch = RestrictedUnpickler(io.BytesIO(raw), source, _ALLOWED, encoding="bytes", what="a CIFAR-10 batch").load()
    except DatasetFormatError:
        raise
    except Exception as error:
        raise DatasetFormatError(f"{source} is not a readable CIFAR-10 batch: {error}") from error
    if not isinstance(batch, dict):
        raise DatasetFormatError(f"{source} holds a {type(batch).__name__}, not a CIFAR-10 batch dict")
    # Keys are bytes (encoding="bytes"); a batch re-pickled by Python 3 may use str keys.
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DatasetFormatError(f"{source} lacks data or labels (it has: {', '.join(map(str, batch)) or 'none'})")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise DatasetFormatError(
            f"{source}: data {data.dtype} {data.shape} and labels {labels.shape}, expected uint8 (n, 3072) "
            "and (n,) labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DatasetFormatError(f"{source} holds labels outside 0..9")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int32)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "\\" not in name


def _batches_from_archive(archive_path: Path) -> dict[str, bytes]:
    wanted = {*TRAIN_BATCHES, TEST_BATCH}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                if not _safe_member(member.name):
                    raise DatasetFormatError(
                        f"{archive_path} has a member outside its folder ({member.name!r}); refusing a "
                        "tampered archive. Delete it and download it again."
                    )
                base = PurePosixPath(member.name).name
                if member.isfile() and base in wanted:
                    stream = archive.extractfile(member)
                    found[base] = stream.read() if stream is not None else b""
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetFormatError(
            f"{archive_path} is not a readable .tar.gz ({error}); it may be truncated or the wrong file. "
            "Delete it and download it again, or point dataset.path at cifar-10-python.tar.gz."
        ) from error
    return found


def _batches_from_folder(folder: Path) -> dict[str, bytes]:
    if (folder / FOLDER).is_dir():
        folder = folder / FOLDER
    return {name: (folder / name).read_bytes() for name in (*TRAIN_BATCHES, TEST_BATCH) if (folder / name).is_file()}


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    class_index: int | None = None,
    rescale: float = 1.0 / 255.0,
) -> DataSplits:
    """Load CIFAR-10 as float32 images ``pixel * rescale`` (the book: 1/255 -> [0, 1]) and int32 labels.

    ``path``: the tar.gz, or an extracted ``cifar-10-batches-py`` folder (or its parent); else the
    Keras cache / a download. ``class_index``: keep only that class (6 = frog), null: all ten.
    """
    if class_index is not None and (
        isinstance(class_index, bool) or not isinstance(class_index, int) or not 0 <= class_index < 10
    ):
        raise ConfigError(
            f"dataset.class_index={class_index!r} is not valid: null (all classes) or 0..9 "
            f"({', '.join(f'{i} {name}' for i, name in enumerate(CLASS_NAMES))})"
        )
    if isinstance(rescale, bool) or not isinstance(rescale, (int, float)) or rescale <= 0:
        raise ConfigError(f"dataset.rescale={rescale!r} is not valid: a positive number, e.g. 0.00392156862745098")

    local = Path(path).expanduser() if path is not None else None
    if local is not None and local.is_dir():
        source = local
        raw = _batches_from_folder(local)
    else:
        source = fetch("CIFAR-10", fname=FNAME, origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
        raw = _batches_from_archive(source)
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if name not in raw]
    if missing:
        raise DatasetFormatError(
            f"{source} lacks the CIFAR-10 batches {', '.join(missing)}; it is not cifar-10-python.tar.gz "
            "(or its extracted cifar-10-batches-py folder)."
        )

    splits = []
    for names in (TRAIN_BATCHES, (TEST_BATCH,)):
        parts = [read_batch(raw[name], f"{source} ({name})") for name in names]
        images = np.concatenate([part[0] for part in parts])
        labels = np.concatenate([part[1] for part in parts])
        if class_index is not None:
            keep = labels == class_index
            images, labels = images[keep], labels[keep]
        splits.append(Examples(images.astype(np.float32) * np.float32(rescale), labels))

    what = "all classes" if class_index is None else f"class {class_index} ({CLASS_NAMES[class_index]})"
    return DataSplits(
        train=splits[0],
        test=splits[1],
        input_shape=(32, 32, 3),
        source=f"CIFAR-10 {source}, {what}",
        info={"num_classes": len(CLASS_NAMES), "class_names": list(CLASS_NAMES)},
    )
