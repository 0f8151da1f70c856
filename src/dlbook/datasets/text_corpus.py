"""A plain-text corpus cut into character windows (book 8.1: Nietzsche, next-character prediction).

The text (``path``, or downloaded with :func:`fetch`) is lower-cased as the book does; its sorted
distinct characters are the vocabulary (57 for Nietzsche). Every ``step`` characters a window of
``maxlen`` characters starts, and its target is the character after it: the book's

    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i: i + maxlen]); next_chars.append(text[i + maxlen])

which gives 200,278 windows for Nietzsche. The book one-hot encodes them all at once (bool tensors of
200,278 x 60 x 57); here features stay compact (int32 character indices, n x maxlen) and each batch is
one-hot encoded to float32 inside the tf.data pipeline. Targets are int32 character indices, so the
loss is ``sparse_categorical_crossentropy`` (the same number as the book's categorical crossentropy on
one-hot targets).

Splits: the book trains on every window and has no test data. With ``validation_split=None`` all
windows train and the last ``TAIL`` windows (which are also training windows) serve as the test and
validation split: a per-epoch check of the loss on training text, not a held-out measure. With
``validation_split=f`` the last fraction ``f`` of the windows is held out (not trained on) and serves
as both.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

ORIGIN = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
# Windows at the end of the text used as test / validation split when nothing is held out.
TAIL = 1000


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = None,
    cache_dir: str | None = None,
    lowercase: bool = True,
    maxlen: int = 60,
    step: int = 3,
    validation_split: float | None = None,
) -> DataSplits:
    """Windows of ``maxlen`` characters every ``step`` characters of a UTF-8 text, each -> the next character.

    ``info`` holds ``chars`` (the sorted vocabulary: index i is ``chars[i]``), ``maxlen``, ``step`` and
    ``lowercase``; ``encode`` one-hot encodes a batch to float32 (n, maxlen, len(chars)).
    """
    _check_options(maxlen=maxlen, step=step, validation_split=validation_split)
    fname = Path(urlparse(str(origin)).path).name or "text_corpus.txt"
    file = fetch("text corpus", fname=fname, origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)
    text = read_text(file)
    if lowercase:
        text = text.lower()
    if len(text) < maxlen + 1:
        raise DatasetFormatError(
            f"{file} has {len(text)} characters, too few for one window: dataset.maxlen={maxlen} needs at "
            f"least {maxlen + 1} (a window and the character after it). Use a longer text or a smaller maxlen."
        )

    chars, indices = index_text(text)
    features, targets = windows(indices, maxlen, step)
    count = len(targets)
    if validation_split is None:
        train = Examples(features, targets)
        tail = np.arange(max(0, count - TAIL), count)
        held_out = train.take(tail)
    else:
        held = int(round(count * validation_split))
        if not 0 < held < count:
            raise ConfigError(
                f"dataset.validation_split={validation_split} is not valid for {count} windows: it holds out "
                f"{held}; give a fraction that leaves at least one window on each side, or null."
            )
        everything = Examples(features, targets)
        train = everything.take(np.arange(count - held))
        held_out = everything.take(np.arange(count - held, count))

    depth = len(chars)

    def encode(batch):
        import tensorflow as tf

        return tf.one_hot(batch, depth, dtype=tf.float32)

    split = f"the last {len(held_out):,} windows" + (" (also trained on)" if validation_split is None else "")
    return DataSplits(
        train=train,
        test=held_out,
        validation=held_out,
        input_shape=(maxlen, depth),
        source=(
            f"text file {file} ({len(text):,} characters, {depth} distinct; {count:,} windows of {maxlen} "
            f"every {step}; test/validation: {split})"
        ),
        encode=encode,
        info={"chars": chars, "maxlen": maxlen, "step": step, "lowercase": bool(lowercase)},
    )


def read_text(file: Path) -> str:
    """The UTF-8 text of ``file``, with an error naming the file when it cannot be read or decoded."""
    try:
        raw = Path(file).read_bytes()
    except OSError as error:
        raise DatasetUnavailableError(f"Cannot read the text file {file}: {error}. Check dataset.path.") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DatasetFormatError(
            f"{file} is not UTF-8 text (byte {error.start}: {error.reason}). Give a UTF-8 text file as "
            "dataset.path (convert it, e.g. `iconv -f latin1 -t utf-8`)."
        ) from error


def index_text(text: str) -> tuple[list[str], np.ndarray]:
    """(sorted distinct characters, int32 index of every character of ``text`` in that list)."""
    # Code points as an array: sorting characters sorts code points, so searchsorted maps them at C speed.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vocabulary = np.unique(codes)
    chars = [chr(code) for code in vocabulary]
    return chars, np.searchsorted(vocabulary, codes).astype(np.int32)


def windows(indices: np.ndarray, maxlen: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The book's windows: starts ``range(0, len - maxlen, step)``; (n, maxlen) features and next-char targets."""
    starts = np.arange(0, len(indices) - maxlen, step, dtype=np.int64)
    features = indices[starts[:, None] + np.arange(maxlen, dtype=np.int64)]
    return features.astype(np.int32, copy=False), indices[starts + maxlen].astype(np.int32, copy=False)


def _check_options(*, maxlen, step, validation_split) -> None:
    for key, value in (("maxlen", maxlen), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"dataset.{key}={value!r} is not valid: give a whole number >= 1.")
    if validation_split is not None and (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0 < validation_split < 1
    ):
        raise ConfigError(
            f"dataset.validation_split={validation_split!r} is not valid: give a fraction between 0 and 1 "
            "(the last windows held out as test/validation data), or null to train on every window as the book."
        )
