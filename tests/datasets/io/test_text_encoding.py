"""Book 6.1a: one-hot encodings of words and characters, the hashing trick, Keras' binary matrix."""

import os
import string
import subprocess
import sys

import numpy as np

from dlbook.datasets.io import text_encoding

SAMPLES = ["The cat sat on the mat.", "The dog ate my homework."]


def test_word_one_hot_like_listing_6_1():
    results, index = text_encoding.one_hot_words(SAMPLES, max_length=10)
    # Split on whitespace only, so "The" and "the" differ and "mat." keeps its full stop.
    assert index == {
        "The": 1, "cat": 2, "sat": 3, "on": 4, "the": 5, "mat.": 6, "dog": 7, "ate": 8, "my": 9, "homework.": 10,
    }  # fmt: skip
    assert results.shape == (2, 10, 11)
    assert results[0, :6].argmax(axis=1).tolist() == [1, 2, 3, 4, 5, 6]
    assert results.sum(axis=(1, 2)).tolist() == [6, 5]  # one 1 per word, nothing past the text


def test_word_one_hot_stops_at_max_length():
    results, _ = text_encoding.one_hot_words(["a b c d e"], max_length=3)
    assert results.shape == (1, 3, 6) and results.sum() == 3


def test_character_one_hot_like_listing_6_2():
    results = text_encoding.one_hot_characters(SAMPLES, max_length=50)
    assert results.shape == (2, 50, 101)
    assert results[0].sum() == len(SAMPLES[0])
    assert results[0, 0].argmax() == string.printable.index("T") + 1
    assert not results[0, len(SAMPLES[0]) :].any()
    assert text_encoding.one_hot_characters(["x" * 80], max_length=50).sum() == 50


def test_hashing_trick_like_listing_6_4():
    results = text_encoding.hashing_trick(SAMPLES, dimensionality=1000, max_length=10)
    assert results.shape == (2, 10, 1000)
    assert results.sum(axis=2)[0].tolist() == [1] * 6 + [0] * 4
    the = text_encoding.stable_hash("the", 1000)
    assert results[0, 4, the] == 1  # the same word gets the same column everywhere
    assert 0 <= the < 1000


def test_hashing_trick_is_the_same_in_every_process():
    words = ["The", "cat", "homework.", "élan"]
    ours = [text_encoding.stable_hash(word, 1000) for word in words]
    code = (
        "from dlbook.datasets.io.text_encoding import stable_hash; "
        f"print([stable_hash(word, 1000) for word in {words!r}])"
    )
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        output = subprocess.run(
            [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
        )
        assert output.stdout.strip() == str(ours)


def test_keras_binary_matrix_like_listing_6_3():
    matrix, vocabulary = text_encoding.keras_binary_matrix(SAMPLES, num_words=1000)
    assert matrix.shape == (2, 1000)
    assert len(vocabulary) - 1 == 9  # "Found 9 unique tokens." (lower-cased, punctuation stripped)
    first = {vocabulary[column] for column in np.flatnonzero(matrix[0])}
    assert first == {"the", "cat", "sat", "on", "mat"}
    assert {vocabulary[column] for column in np.flatnonzero(matrix[1])} == {"the", "dog", "ate", "my", "homework"}
