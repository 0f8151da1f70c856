"""The character-window text corpus (book 8.1): windows, vocabulary, one-hot encoding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.datasets import text_corpus
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

TEXT = "Thus Spake Zarathustra. He who fights with monsters should look to it! " * 3


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def book_windows(text: str, maxlen: int, step: int):
    """The book's loop, verbatim apart from names."""
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    return sentences, next_chars


def decode(chars, row) -> str:
    return "".join(chars[int(i)] for i in row)


def test_windows_and_vocabulary_equal_the_books_loop(text_file):
    data = text_corpus.load(path=str(text_file), maxlen=12, step=3)
    text = TEXT.lower()
    sentences, next_chars = book_windows(text, 12, 3)
    chars = data.info["chars"]
    assert chars == sorted(set(text))
    assert data.info["maxlen"] == 12 and data.info["step"] == 3
    assert data.train.features.dtype == np.int32 and data.train.targets.dtype == np.int32
    assert data.train.features.shape == (len(sentences), 12)
    assert [decode(chars, row) for row in data.train.features] == sentences
    assert [chars[i] for i in data.train.targets] == next_chars
    # No held-out data in the book: the tail of the training windows is the test / validation split.
    assert len(data.test) == len(sentences) and data.validation is data.test
    assert data.input_shape == (12, len(chars))


def test_case_is_kept_when_asked_and_the_tail_is_held_out(text_file):
    data = text_corpus.load(path=str(text_file), lowercase=False, maxlen=10, step=1, validation_split=0.25)
    sentences, _ = book_windows(TEXT, 10, 1)
    held = round(len(sentences) * 0.25)
    assert "T" in data.info["chars"]
    assert len(data.train) == len(sentences) - held and len(data.test) == held
    assert decode(data.info["chars"], data.test.features[0]) == sentences[len(sentences) - held]


def test_encode_is_one_hot_float32(text_file):
    import tensorflow as tf

    data = text_corpus.load(path=str(text_file), maxlen=8, step=5)
    batch = data.train.features[:4]
    encoded = data.encode(tf.constant(batch)).numpy()
    assert encoded.dtype == np.float32 and encoded.shape == (4, 8, len(data.info["chars"]))
    assert np.array_equal(encoded.argmax(-1), batch) and np.all(encoded.sum(-1) == 1.0)


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 ".encode("latin-1") * 40)
    with pytest.raises(DatasetFormatError, match="latin1.txt is not UTF-8"):
        text_corpus.load(path=str(path), maxlen=5)


def test_too_short_text_and_missing_file(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("x" * 60, encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="needs at least 61"):
        text_corpus.load(path=str(path))
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        text_corpus.load(path=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    ("options", "key"),
    [({"maxlen": 0}, "dataset.maxlen=0"), ({"step": 1.5}, "dataset.step=1.5"), ({"validation_split": 1.0}, "split")],
)
def test_bad_options_name_the_key(text_file, options, key):
    with pytest.raises(ConfigError, match=key):
        text_corpus.load(path=str(text_file), **options)
