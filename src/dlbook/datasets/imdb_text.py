"""IMDB raw text (Stanford's aclImdb), tokenized the book's way for pretrained GloVe embeddings (6.1b(ii)).

The book reads ``aclImdb/train/{neg,pos}/*.txt`` (labels 0 / 1), fits a ``Tokenizer(num_words=10000)``
on all 25,000 texts, pads every sequence to 100 words, shuffles, and keeps only the first 200 reviews
for training and the next 10,000 for validation; the test set is all of ``aclImdb/test``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from dlbook.datasets.imdb_sequences import pad_sequences
from dlbook.datasets.io.archives import UnsafeArchiveError, check_tar_member
from dlbook.datasets.io.download import cache_path, fetch
from dlbook.datasets.io.examples import DataSplits, Examples, RaggedSequences
from dlbook.datasets.io.limits import current_limit, spread
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

# The book (and Stanford's page) give http://; the same host serves the same file over https.
ORIGIN = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# MD5 of Stanford's aclImdb_v1.tar.gz (84,125,825 bytes), as torchtext and others check it.
FILE_HASH = "7c2ac02c03563afcf9b574c7e56c153a"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
EXTRACTED_NAME = "aclImdb"
SPLITS = ("train", "test")
# Folder -> label, in the book's reading order.
CLASSES = (("neg", 0), ("pos", 1))
# Written into an extracted tree (before it is renamed into place): which archive it came from.
STAMP = ".dlbook_extracted.json"


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = FILE_HASH,
    cache_dir: str | None = None,
    num_words: int = 10000,
    maxlen: int = 100,
    training_samples: int = 200,
    validation_samples: int = 10000,
    seed: int = 0,
    pretrained_vectors: Mapping[str, Any] | None = None,
) -> DataSplits:
    """The book's GloVe experiment data: 200 training and 10,000 validation reviews, all 25,000 test reviews.

    ``path`` is an extracted ``aclImdb/`` folder or the ``.tar.gz``; without it the archive is taken
    from the cache or downloaded, and extracted once into the cache. Features are int32 ``(n, maxlen)``
    word indices (0 padding, 1 unknown word), labels float32 0 / 1; ``info["vocabulary"]`` lists the
    tokens by index. With ``pretrained_vectors`` (the dataset/glove config), ``info["embedding_matrix"]``
    gives the GloVe matrix of that vocabulary, read when a model first asks for it (dlbook.datasets.glove).
    """
    _check_options(num_words, maxlen, training_samples, validation_samples, seed)
    root = _dataset_folder(path, origin=origin, file_hash=file_hash, cache_dir=cache_dir)
    limit = current_limit()
    if limit is not None:
        # debug=fast: read and tokenize only the reviews a smoke run's few batches use (the vocabulary then
        # comes from those reviews, not from all 25,000).
        training_samples, validation_samples = min(training_samples, limit), min(validation_samples, limit)
    train_texts, train_labels = read_split(
        root, "train", None if limit is None else training_samples + validation_samples
    )
    test_texts, test_labels = read_split(root, "test", limit)
    if training_samples + validation_samples > len(train_texts):
        raise ConfigError(
            f"dataset.training_samples={training_samples} + dataset.validation_samples={validation_samples} is "
            f"not valid: {root / 'train'} holds only {len(train_texts)} reviews"
        )

    vocabulary, train_sequences, test_sequences = tokenize(train_texts, test_texts, num_words)
    # The book's pad_sequences pads and truncates at the start ("pre": a long review keeps its LAST
    # maxlen words), whereas TextVectorization(output_sequence_length=...) pads and cuts at the end;
    # so the layer returns whole reviews and they are padded here the book's way.
    train_features = pad_sequences(train_sequences, maxlen)
    test_features = pad_sequences(test_sequences, maxlen)

    # The book shuffled with an unseeded np.random.shuffle; here the order is reproducible.
    order = np.arange(len(train_texts))
    np.random.RandomState(seed).shuffle(order)
    training = order[:training_samples]
    validation = order[training_samples : training_samples + validation_samples]
    train_targets = train_labels.astype(np.float32)
    return DataSplits(
        train=Examples(train_features[training], train_targets[training]),
        validation=Examples(train_features[validation], train_targets[validation]) if validation_samples else None,
        test=Examples(test_features, test_labels.astype(np.float32)),
        input_shape=(maxlen,),
        source=f"aclImdb texts in {root}, {len(vocabulary)} tokens, padded to {maxlen} words",
        info={"vocabulary": vocabulary, "num_words": len(vocabulary)} | _pretrained(vocabulary, pretrained_vectors),
    )


def _pretrained(vocabulary: list[str], settings: Mapping[str, Any] | None) -> dict[str, Any]:
    if settings is None:
        return {}
    from dlbook.datasets.glove import vectors_for

    return {"embedding_matrix": vectors_for(vocabulary, settings)}


def _check_options(num_words: Any, maxlen: Any, training_samples: Any, validation_samples: Any, seed: Any) -> None:
    for key, value, minimum in (
        ("num_words", num_words, 3),
        ("maxlen", maxlen, 1),
        ("training_samples", training_samples, 1),
        ("validation_samples", validation_samples, 0),
        ("seed", seed, 0),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"dataset.{key}={value} is not valid: an integer >= {minimum}")


def read_split(root: Path, split: str, count: int | None = None) -> tuple[list[str], np.ndarray]:
    """The texts of ``root/<split>/neg`` then ``root/<split>/pos`` (file names sorted), and their 0 / 1 labels.

    ``count``: read only that many reviews, evenly spread over the listing (the debug limits); None: all.
    """
    files: list[Path] = []
    labels: list[int] = []
    for folder_name, label in CLASSES:
        folder = root / split / folder_name
        if not folder.is_dir():
            raise DatasetFormatError(
                f"{root} lacks the folder {split}/{folder_name}: dataset.path must be the extracted aclImdb/ "
                "folder (with train/neg, train/pos, test/neg, test/pos) or aclImdb_v1.tar.gz"
            )
        names = sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".txt") and entry.is_file())
        if not names:
            raise DatasetFormatError(f"{folder} holds no .txt reviews; the aclImdb folder is incomplete")
        files.extend(folder / name for name in names)
        labels.extend([label] * len(names))
    files, chosen_labels = spread(files, np.array(labels, dtype=np.int64), count, split)
    texts = []
    for file in files:
        with open(file, encoding="utf-8") as stream:
            texts.append(stream.read())
    return texts, chosen_labels


def tokenize(
    train_texts: list[str], test_texts: list[str], num_words: int
) -> tuple[list[str], RaggedSequences, RaggedSequences]:
    """Word indices of both splits, with a vocabulary of the ``num_words`` most frequent training words.

    The vocabulary is learned from all training texts before any split (the book's
    ``Tokenizer.fit_on_texts(texts)``). Unlike the book's Tokenizer, which dropped rarer words,
    ``TextVectorization`` keeps their place as index 1 (``[UNK]``); index 0 is padding, so
    ``num_words`` counts both (9,998 real words for 10,000), and its punctuation stripping also
    removes apostrophes.
    """
    import keras
    import tensorflow as tf

    # Not ragged (Keras allows ragged outputs on its TensorFlow backend only): each call pads its texts to
    # the longest of them with 0, the padding index no word gets, so a text is its row up to its first 0.
    layer = keras.layers.TextVectorization(
        max_tokens=num_words,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        output_mode="int",
        output_sequence_length=None,
    )
    layer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
    vocabulary = [str(token) for token in layer.get_vocabulary()]

    def indices(texts: list[str]) -> RaggedSequences:
        rows = []
        for start in range(0, len(texts), 1024):
            padded = np.asarray(layer(tf.constant(texts[start : start + 1024])))
            rows.extend(row[: int(length)] for row, length in zip(padded, (padded != 0).sum(axis=1), strict=True))
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        flat = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, dtype=np.int32)
        return RaggedSequences(flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    return vocabulary, indices(train_texts), indices(test_texts)


def _dataset_folder(path: str | None, *, origin: str, file_hash: str | None, cache_dir: str | None) -> Path:
    """The extracted aclImdb folder: ``path`` itself, or the cache's extraction of the archive."""
    if path is not None:
        local = Path(os.path.expanduser(str(path)))
        if local.is_dir():
            # Accept the folder that contains aclImdb/ as well as aclImdb/ itself.
            nested = local / EXTRACTED_NAME
            return nested if not (local / "train").is_dir() and nested.is_dir() else local
        if not local.is_file():
            raise DatasetUnavailableError(
                f"dataset.path={path} does not exist (looked at {local.resolve()}). Point it at the extracted "
                f"aclImdb/ folder or at {ARCHIVE_NAME}, or set dataset.path=null to download it."
            )
        archive = local
    else:
        extracted = cache_path(EXTRACTED_NAME, cache_dir)
        if not cache_path(ARCHIVE_NAME, cache_dir).is_file() and _is_complete(extracted):
            # Extracted by hand (or the archive was deleted to save space): no need to download again.
            logger.info("IMDB raw text: using the extracted %s", extracted)
            return extracted
        archive = fetch(
            "IMDB raw text",
            fname=ARCHIVE_NAME,
            origin=origin,
            file_hash=file_hash,
            path=None,
            cache_dir=cache_dir,
        )
    return extract_once(archive, cache_path(EXTRACTED_NAME, cache_dir))


def extract_once(archive: Path, target: Path) -> Path:
    """Extract the reviews of ``archive`` into ``target`` unless an extraction of the same archive is there.

    Only ``train/`` and ``test/`` reviews are written (``unsup/`` and the bag-of-words files are not
    needed). The files go to a temporary sibling folder that is renamed into place at the end, so an
    interrupted extraction never looks complete. Members with absolute paths or ``..``, and links or special
    files that ``tarfile``'s data filter refuses, make the whole archive refused (nothing is left behind).
    """
    stat = archive.stat()
    stamp = {"archive": str(archive.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if _read_stamp(target) == stamp:
        logger.info("IMDB raw text: using the extracted %s", target)
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("IMDB raw text: extracting %s into %s", archive, target)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _extract_reviews(archive, temporary)
        (temporary / STAMP).write_text(json.dumps(stamp))
        if target.exists():
            # An extraction of another archive: move it aside first, then swap.
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            os.replace(target, stale / target.name)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def _is_complete(folder: Path) -> bool:
    return all((folder / split / name).is_dir() for split in SPLITS for name, _ in CLASSES)


def _read_stamp(target: Path) -> dict[str, Any] | None:
    try:
        return json.loads((target / STAMP).read_text())
    except (OSError, ValueError):
        return None


def _extract_reviews(archive: Path, destination: Path) -> None:
    """Write the regular files ``[<top>/]{train,test}/{neg,pos}/*.txt`` of the tar into ``destination``."""
    written = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                # Links, devices and names leading out of the folder are refused, even those not extracted.
                check_tar_member(member, archive, destination)
                parts = _safe_parts(member.name, archive)
                if not member.isfile() or len(parts) < 3:
                    continue
                # Drop the archive's top folder (aclImdb/) when there is one.
                relative = parts[1:] if parts[0] not in SPLITS else parts
                if len(relative) != 3 or relative[0] not in SPLITS or relative[1] not in dict(CLASSES):
                    continue
                output = destination.joinpath(*relative)
                output.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(output, "wb") as stream:
                    shutil.copyfileobj(source, stream)
                written += 1
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetFormatError(
            f"{archive} is not a readable .tar.gz ({error}): it is truncated or another file. Delete it (a "
            f"cached copy is then downloaded again), or point dataset.path at {ARCHIVE_NAME} or the extracted "
            "aclImdb/ folder."
        ) from error
    if not written:
        raise DatasetFormatError(
            f"{archive} holds no reviews (no files under aclImdb/train/{{neg,pos}} or aclImdb/test/{{neg,pos}})"
        )


def _safe_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The path components of a tar member, refusing names that would escape the extraction folder."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise UnsafeArchiveError(
            f"{archive} has a member with an unsafe path ({name!r}: absolute or with '..'); refusing to "
            "extract it, as it could write outside the dataset folder. The archive is not Stanford's aclImdb."
        )
    return tuple(part for part in posix.parts if part not in ("", "."))
