"""IMDB as padded sequences: the same arrays as keras.utils.pad_sequences on load_data's reviews."""

import numpy as np
import pytest
from fakes import assert_config_matches, write_imdb_npz

from dlbook.datasets import imdb, imdb_sequences
from dlbook.datasets.io.examples import RaggedSequences
from dlbook.errors import ConfigError


@pytest.fixture
def imdb_file(tmp_path):
    # Reviews of 6 to 41 words (start mark included), so maxlen=12 both pads and truncates.
    return write_imdb_npz(tmp_path / "imdb.npz", n_train=40, n_test=30, max_word=60, seed=5)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_equals_keras_pad_sequences(imdb_file, padding, truncating):
    import keras

    reviews = imdb.load(path=str(imdb_file), num_words=30, vectorize="sequences")
    data = imdb_sequences.load(path=str(imdb_file), num_words=30, maxlen=12, padding=padding, truncating=truncating)

    for ours, original in ((data.train, reviews.train), (data.test, reviews.test)):
        expected = keras.utils.pad_sequences(
            original.features.to_lists(), maxlen=12, padding=padding, truncating=truncating
        )
        np.testing.assert_array_equal(ours.features, expected)
        assert ours.features.dtype == np.int32
        np.testing.assert_array_equal(ours.targets, original.targets)


def test_reverse_reverses_each_review_before_padding(imdb_file):
    import keras

    reviews = imdb.load(path=str(imdb_file), num_words=30, vectorize="sequences")
    data = imdb_sequences.load(path=str(imdb_file), num_words=30, maxlen=12, reverse=True)
    # Book 6.3: x_train = [x[::-1] for x in x_train]; then pad_sequences(x_train, maxlen=maxlen).
    expected = keras.utils.pad_sequences([row[::-1] for row in reviews.train.features.to_lists()], maxlen=12)
    np.testing.assert_array_equal(data.train.features, expected)
    assert "reversed" in data.source


def test_padding_by_hand():
    rows = RaggedSequences.from_lists([[1, 2, 3], [4], [], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(
        imdb_sequences.pad_sequences(rows, 3),
        [[1, 2, 3], [0, 0, 4], [0, 0, 0], [7, 8, 9]],  # pre: keep the last words, zeros in front
    )
    np.testing.assert_array_equal(
        imdb_sequences.pad_sequences(rows, 3, padding="post", truncating="post"),
        [[1, 2, 3], [4, 0, 0], [0, 0, 0], [5, 6, 7]],
    )
    assert imdb_sequences.reverse_rows(rows).to_lists() == [[3, 2, 1], [4], [], [9, 8, 7, 6, 5]]
    assert imdb_sequences.pad_sequences(RaggedSequences.from_lists([]), 4).shape == (0, 4)


def test_shapes_for_embedding_models(imdb_file):
    data = imdb_sequences.load(path=str(imdb_file), num_words=30, maxlen=20)
    assert data.input_shape == (20,)
    assert data.encode is None
    assert data.info == {"num_words": 30, "maxlen": 20}
    assert data.train.features.shape == (40, 20)
    assert data.test.features.shape == (30, 20)
    assert data.train.features.max() < 30


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (dict(maxlen=0), "dataset.maxlen=0"),
        (dict(padding="both"), "dataset.padding=both"),
        (dict(truncating="middle"), "dataset.truncating=middle"),
        (dict(reverse="yes"), "dataset.reverse=yes"),
        (dict(num_words=2), "dataset.num_words=2"),
    ],
)
def test_invalid_options_name_the_key(imdb_file, options, key):
    with pytest.raises(ConfigError, match=key):
        imdb_sequences.load(path=str(imdb_file), **options)


def test_config_file_spells_out_every_argument():
    assert_config_matches("imdb_sequences", imdb_sequences.load)
