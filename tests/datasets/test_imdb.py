"""IMDB loader: Keras' load_data semantics on a tiny file, multi-hot encoding, option errors."""

import numpy as np
import pytest
from fakes import assert_config_matches, write_imdb_npz

from dlbook.datasets import imdb
from dlbook.datasets.io.safe_npz import load_npz
from dlbook.datasets.io.sequences import multi_hot_encoder
from dlbook.errors import ConfigError


def keras_reference(file, num_words, skip_top, seed, start_char, oov_char, index_from):
    """keras.datasets.imdb.load_data, transcribed with plain Python lists."""
    raw = load_npz(file)
    rng = np.random.RandomState(seed)
    splits = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        order = np.arange(len(raw[x_key]))
        rng.shuffle(order)
        rows = [list(raw[x_key][i]) for i in order]
        if start_char is not None:
            rows = [[start_char] + [w + index_from for w in row] for row in rows]
        else:
            rows = [[w + index_from for w in row] for row in rows]
        splits.append((rows, raw[y_key][order]))
    if not num_words:
        num_words = max(max(row) for rows, _ in splits for row in rows)
    result = []
    for rows, labels in splits:
        if oov_char is not None:
            rows = [[w if skip_top <= w < num_words else oov_char for w in row] for row in rows]
        else:
            rows = [[w for w in row if skip_top <= w < num_words] for row in rows]
        result.append((rows, labels))
    return result


@pytest.fixture
def imdb_file(tmp_path):
    return write_imdb_npz(tmp_path / "imdb.npz", n_train=40, n_test=30, max_word=60, seed=3)


OPTIONS = [
    dict(num_words=10000, skip_top=0, seed=113, start_char=1, oov_char=2, index_from=3),
    dict(num_words=30, skip_top=0, seed=113, start_char=1, oov_char=2, index_from=3),
    dict(num_words=30, skip_top=8, seed=7, start_char=1, oov_char=2, index_from=3),
    dict(num_words=25, skip_top=5, seed=113, start_char=None, oov_char=None, index_from=0),
    dict(num_words=None, skip_top=0, seed=113, start_char=1, oov_char=2, index_from=3),
]


@pytest.mark.parametrize("options", OPTIONS)
def test_matches_keras_load_data(imdb_file, options):
    data = imdb.load(path=str(imdb_file), vectorize="sequences", **options)
    (train_rows, train_labels), (test_rows, test_labels) = keras_reference(imdb_file, **options)

    assert data.train.features.to_lists() == train_rows
    assert data.test.features.to_lists() == test_rows
    np.testing.assert_array_equal(data.train.targets, train_labels)
    np.testing.assert_array_equal(data.test.targets, test_labels)
    assert data.train.features.values.dtype == np.int32
    assert data.train.targets.dtype == np.float32


def test_reviews_by_hand(tmp_path):
    file = tmp_path / "imdb.npz"
    x_train = np.empty(3, dtype=object)
    x_train[0], x_train[1], x_train[2] = [1, 2, 3], [4, 10, 7], [6]
    x_test = np.empty(1, dtype=object)
    x_test[0] = [5]
    np.savez(file, x_train=x_train, y_train=np.array([0, 1, 1]), x_test=x_test, y_test=np.array([1]))

    data = imdb.load(path=str(file), num_words=10, vectorize="sequences")
    # RandomState(113) orders 3 reviews as 2, 0, 1. Each review gets start mark 1, words +3, and
    # indices >= num_words (13, 10) become the OOV mark 2.
    assert data.train.features.to_lists() == [[1, 9], [1, 4, 5, 6], [1, 7, 2, 2]]
    assert data.train.targets.tolist() == [1.0, 0.0, 1.0]
    assert data.test.features.to_lists() == [[1, 8]]


def test_multi_hot_vectorization(imdb_file):
    data = imdb.load(path=str(imdb_file), num_words=30)
    assert data.input_shape == (30,)
    assert data.info["num_words"] == 30
    assert data.source == f"Keras file {imdb_file}"

    import tensorflow as tf

    features = data.train.features
    batch = tf.RaggedTensor.from_row_splits(features.values[: features.row_splits[3]], features.row_splits[:4])
    expected = np.zeros((3, 30), dtype=np.float32)
    for row, sequence in enumerate(features.to_lists()[:3]):
        expected[row, sequence] = 1.0
    np.testing.assert_array_equal(data.encode(batch).numpy(), expected)


def test_multi_hot_encoder_by_hand():
    import tensorflow as tf

    batch = tf.ragged.constant([[1, 3, 3], [], [0, 5, 9]], dtype=tf.int32)
    encoded = multi_hot_encoder(6)(batch)
    assert encoded.dtype == tf.float32
    expected = [[0, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]]  # 9 >= num_words: ignored
    np.testing.assert_array_equal(encoded.numpy(), np.array(expected, dtype=np.float32))


def test_sequences_leave_encoding_to_the_model(imdb_file):
    data = imdb.load(path=str(imdb_file), vectorize="sequences")
    assert data.encode is None
    assert data.input_shape == (None,)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (dict(vectorize="tfidf"), "dataset.vectorize=tfidf"),
        (dict(num_words=2), "dataset.num_words=2"),
        (dict(skip_top=-1), "dataset.skip_top=-1"),
        (dict(oov_char="x"), "dataset.oov_char=x"),
    ],
)
def test_invalid_options_name_the_key(imdb_file, options, key):
    with pytest.raises(ConfigError, match=key):
        imdb.load(path=str(imdb_file), **options)


def test_config_file_spells_out_every_argument():
    assert_config_matches("imdb", imdb.load)
