"""One-hot encodings of words and characters, and the hashing trick (book 6.1a, listings 6.1-6.4).

A small library, not an experiment: each function returns the array the book's listing builds, for
a list of texts such as ``["The cat sat on the mat.", "The dog ate my homework."]``.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Sequence

import numpy as np


def word_index(samples: Sequence[str]) -> dict[str, int]:
    """Each distinct whitespace-separated word, in order of first appearance, numbered from 1 (listing 6.1)."""
    index: dict[str, int] = {}
    for sample in samples:
        for word in sample.split():
            index.setdefault(word, len(index) + 1)
    return index


def one_hot_words(samples: Sequence[str], max_length: int = 10) -> tuple[np.ndarray, dict[str, int]]:
    """Word-level one-hot encoding (listing 6.1): ``(len(samples), max_length, len(index) + 1)`` and the index.

    Only the first ``max_length`` words of each sample are encoded; index 0 is never used.
    """
    index = word_index(samples)
    results = np.zeros((len(samples), max_length, len(index) + 1), dtype=np.float32)
    for row, sample in enumerate(samples):
        for position, word in enumerate(sample.split()[:max_length]):
            results[row, position, index[word]] = 1.0
    return results, index


def one_hot_characters(samples: Sequence[str], max_length: int = 50) -> np.ndarray:
    """Character-level one-hot encoding over ``string.printable`` (listing 6.2): ``(n, max_length, 101)``.

    Characters are numbered from 1 in ``string.printable`` order. The book's listing builds the
    dictionary the wrong way round (index -> character), so its lookups return None and NumPy sets
    the whole row; this is the encoding the listing means. Other characters are left all-zero.
    """
    index = {character: number for number, character in enumerate(string.printable, start=1)}
    results = np.zeros((len(samples), max_length, len(index) + 1), dtype=np.float32)
    for row, sample in enumerate(samples):
        for position, character in enumerate(sample[:max_length]):
            if character in index:
                results[row, position, index[character]] = 1.0
    return results


def stable_hash(word: str, dimensionality: int) -> int:
    """The hashing trick's index of ``word`` in ``0 .. dimensionality - 1``, the same in every process.

    The book uses ``abs(hash(word)) % dimensionality``, but Python salts ``hash()`` of strings per
    process (PYTHONHASHSEED), so a word would get another index in the next run and a trained
    model would see different inputs. CRC-32 of the UTF-8 bytes is fixed, fast and non-negative.
    """
    return zlib.crc32(word.encode("utf-8")) % dimensionality


def hashing_trick(samples: Sequence[str], dimensionality: int = 1000, max_length: int = 10) -> np.ndarray:
    """Word-level one-hot encoding with hashed indices (listing 6.4): ``(n, max_length, dimensionality)``.

    No word index is stored; distinct words may collide on the same index.
    """
    results = np.zeros((len(samples), max_length, dimensionality), dtype=np.float32)
    for row, sample in enumerate(samples):
        for position, word in enumerate(sample.split()[:max_length]):
            results[row, position, stable_hash(word, dimensionality)] = 1.0
    return results


def keras_binary_matrix(samples: Sequence[str], num_words: int = 1000) -> tuple[np.ndarray, list[str]]:
    """Listing 6.3 (``Tokenizer(num_words).texts_to_matrix(samples, mode="binary")``) with Keras 3's layer.

    Returns a float32 ``(len(samples), num_words)`` 0/1 matrix and the vocabulary by column. Keras 3
    has no ``Tokenizer``; ``TextVectorization`` lower-cases and strips punctuation like it, but puts
    its out-of-vocabulary token ``[UNK]`` in column 0 (the Tokenizer left column 0 unused), so the book's
    "Found 9 unique tokens." is ``len(vocabulary) - 1`` here.
    """
    import keras

    layer = keras.layers.TextVectorization(max_tokens=num_words, output_mode="multi_hot", pad_to_max_tokens=True)
    layer.adapt(list(samples))
    matrix = np.asarray(layer(np.array(list(samples), dtype=object)), dtype=np.float32)
    return matrix, [str(token) for token in layer.get_vocabulary()]
