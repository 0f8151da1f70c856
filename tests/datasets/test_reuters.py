"""Reuters loader: Keras' load_data semantics (one shuffle, test_split), labels, option errors."""

import numpy as np
import pytest
from fakes import assert_config_matches, write_reuters_npz

from dlbook.datasets import reuters
from dlbook.datasets.io.safe_npz import load_npz
from dlbook.errors import ConfigError


def keras_reference(file, num_words, test_split, seed=113, start_char=1, oov_char=2, index_from=3):
    """keras.datasets.reuters.load_data, transcribed with plain Python lists."""
    raw = load_npz(file)
    order = np.arange(len(raw["x"]))
    np.random.RandomState(seed).shuffle(order)
    rows = [[start_char] + [w + index_from for w in raw["x"][i]] for i in order]
    rows = [[w if w < num_words else oov_char for w in row] for row in rows]
    labels = raw["y"][order]
    cut = int(len(rows) * (1 - test_split))
    return (rows[:cut], labels[:cut]), (rows[cut:], labels[cut:])


@pytest.fixture
def reuters_file(tmp_path):
    return write_reuters_npz(tmp_path / "reuters.npz", n=57, max_word=200, seed=1)


@pytest.mark.parametrize("test_split", [0.2, 0.5])
def test_matches_keras_load_data(reuters_file, test_split):
    data = reuters.load(path=str(reuters_file), num_words=100, test_split=test_split, labels="sparse")
    (train_rows, train_topics), (test_rows, test_topics) = keras_reference(reuters_file, 100, test_split)

    assert len(data.train) == int(57 * (1 - test_split))
    assert data.train.features.to_lists() == train_rows
    assert data.test.features.to_lists() == test_rows
    np.testing.assert_array_equal(data.train.targets, train_topics)
    np.testing.assert_array_equal(data.test.targets, test_topics)


def test_one_hot_labels_have_46_columns(reuters_file):
    data = reuters.load(path=str(reuters_file))
    sparse = reuters.load(path=str(reuters_file), labels="sparse")
    assert data.info["num_classes"] == 46
    assert data.train.targets.shape == (len(data.train), 46)
    assert data.train.targets.dtype == np.float32
    np.testing.assert_array_equal(data.train.targets.argmax(axis=1), sparse.train.targets)
    np.testing.assert_array_equal(data.train.targets.sum(axis=1), 1.0)
    assert data.input_shape == (10000,)
    assert data.encode is not None


def test_more_topics_than_46_widen_the_labels(tmp_path):
    file = write_reuters_npz(tmp_path / "reuters.npz", n=200, num_classes=50)
    data = reuters.load(path=str(file))
    assert data.info["num_classes"] == 50
    assert data.train.targets.shape[1] == 50


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (dict(labels="categorical"), "dataset.labels=categorical"),
        (dict(test_split=1.0), "dataset.test_split=1.0"),
        (dict(vectorize="bag"), "dataset.vectorize=bag"),
        (dict(num_words=3), "dataset.num_words=3"),
    ],
)
def test_invalid_options_name_the_key(reuters_file, options, key):
    with pytest.raises(ConfigError, match=key):
        reuters.load(path=str(reuters_file), **options)


def test_config_file_spells_out_every_argument():
    assert_config_matches("reuters", reuters.load)
