"""Boston housing loader: Keras' 404/102 split from any source, normalization, source choice."""

import numpy as np
import pytest
from fakes import assert_config_matches, serve_directory, write_boston_npz

from dlbook.datasets import boston_housing
from dlbook.datasets.io.download import cache_path
from dlbook.errors import ConfigError

KERAS_FIRST_TRAIN_TARGETS = [15.2, 42.3, 50.0, 21.1, 17.7]


def test_bundled_copy_gives_keras_split():
    data = boston_housing.load(source="bundled", normalize=False)
    assert (len(data.train), len(data.test)) == (404, 102)
    assert data.input_shape == (13,)
    np.testing.assert_allclose(data.train.targets[:5], KERAS_FIRST_TRAIN_TARGETS, rtol=1e-6)
    assert data.train.targets.shape == (404,)
    assert data.train.features.dtype == np.float32 and data.train.targets.dtype == np.float32
    assert "mlxtend" in data.source


def test_normalization_uses_training_statistics():
    raw = boston_housing.load(source="bundled", normalize=False)
    data = boston_housing.load(source="bundled")
    np.testing.assert_allclose(data.train.features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.features.std(axis=0), 1.0, atol=1e-5)
    mean = raw.train.features.astype(np.float64).mean(axis=0)
    std = raw.train.features.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(data.test.features, (raw.test.features - mean) / std, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(data.train.targets, raw.train.targets)


def test_keras_file_by_path_matches_bundled_copy(tmp_path):
    file = write_boston_npz(tmp_path / "boston_housing.npz")
    from_file = boston_housing.load(path=str(file))
    bundled = boston_housing.load(source="bundled")
    assert from_file.source == f"Keras file {file}"
    np.testing.assert_allclose(from_file.train.features, bundled.train.features, atol=1e-6)
    np.testing.assert_array_equal(from_file.train.targets, bundled.train.targets)
    np.testing.assert_array_equal(from_file.test.targets, bundled.test.targets)


def test_auto_never_downloads(tmp_path):
    with serve_directory(tmp_path) as (base_url, request_log):
        write_boston_npz(tmp_path / "boston_housing.npz")
        data = boston_housing.load(origin=f"{base_url}/boston_housing.npz", cache_dir=str(tmp_path / "cache"))
    assert request_log == []
    assert "mlxtend" in data.source


def test_auto_prefers_a_cached_keras_file(tmp_path):
    cached = cache_path("boston_housing.npz", str(tmp_path))
    cached.parent.mkdir(parents=True)
    write_boston_npz(cached)
    data = boston_housing.load(cache_dir=str(tmp_path), origin="http://127.0.0.1:9/unreachable")
    assert data.source == f"Keras file {cached}"
    np.testing.assert_allclose(data.train.targets[:5], KERAS_FIRST_TRAIN_TARGETS, rtol=1e-6)


def test_keras_source_downloads_into_the_cache(tmp_path):
    served = tmp_path / "server"
    served.mkdir()
    write_boston_npz(served / "boston_housing.npz")
    with serve_directory(served) as (base_url, request_log):
        data = boston_housing.load(
            source="keras", origin=f"{base_url}/boston_housing.npz", file_hash=None, cache_dir=str(tmp_path)
        )
    assert request_log == ["/boston_housing.npz"]
    assert data.source == f"Keras file {cache_path('boston_housing.npz', str(tmp_path))}"
    assert len(data.train) == 404


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (dict(source="web"), "dataset.source=web"),
        (dict(source="bundled", path="/data/boston.npz"), "dataset.path=/data/boston.npz"),
        (dict(test_split=1.5), "dataset.test_split=1.5"),
    ],
)
def test_invalid_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=key) as raised:
        boston_housing.load(**options)
    if "source" in key:
        assert "auto, keras, bundled" in str(raised.value)


def test_config_file_spells_out_every_argument():
    assert_config_matches("boston_housing", boston_housing.load)
