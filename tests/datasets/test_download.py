"""fetch(): local path, Keras cache, download from a (local) server, and the errors a user sees."""

import hashlib
import socket

import pytest
from fakes import serve_directory

from dlbook.datasets.download import cache_path, cached, fetch
from dlbook.errors import DatasetFormatError, DatasetUnavailableError


@pytest.fixture
def served(tmp_path):
    """A folder with one data file served over HTTP: (base_url, request_log, sha256 of the file)."""
    folder = tmp_path / "server"
    folder.mkdir()
    (folder / "data.npz").write_bytes(b"dataset bytes " * 100)
    digest = hashlib.sha256((folder / "data.npz").read_bytes()).hexdigest()
    with serve_directory(folder) as (base_url, request_log):
        yield base_url, request_log, digest


def _fetch(origin, file_hash, cache_dir, path=None):
    return fetch("Test", fname="data.npz", origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir)


def test_downloads_once_then_uses_the_cache(served, tmp_path):
    base_url, request_log, digest = served
    cache_dir = str(tmp_path / "cache")

    first = _fetch(f"{base_url}/data.npz", digest, cache_dir)
    assert first == cache_path("data.npz", cache_dir) == tmp_path / "cache" / "datasets" / "data.npz"
    assert first.read_bytes() == b"dataset bytes " * 100
    assert request_log == ["/data.npz"]

    second = _fetch(f"{base_url}/data.npz", digest, cache_dir)
    assert second == first
    assert request_log == ["/data.npz"]
    assert cached("data.npz", cache_dir) == first


def test_default_cache_is_keras_home(served, keras_home):
    base_url, _, digest = served
    assert cached("data.npz", None) is None
    downloaded = _fetch(f"{base_url}/data.npz", digest, None)
    assert downloaded == keras_home / "datasets" / "data.npz"
    assert cached("data.npz", None) == downloaded


def test_cached_file_with_wrong_hash_is_downloaded_again(served, tmp_path):
    base_url, request_log, digest = served
    stale = cache_path("data.npz", str(tmp_path))
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older version")

    assert _fetch(f"{base_url}/data.npz", digest, str(tmp_path)).read_bytes() == b"dataset bytes " * 100
    assert request_log == ["/data.npz"]


def test_checksum_mismatch_raises_and_leaves_no_file(served, tmp_path):
    base_url, _, _ = served
    expected = "0" * 64
    with pytest.raises(DatasetFormatError) as raised:
        _fetch(f"{base_url}/data.npz", expected, str(tmp_path))
    message = str(raised.value)
    assert f"{base_url}/data.npz" in message
    assert expected in message
    assert "dataset.file_hash" in message
    assert not cache_path("data.npz", str(tmp_path)).exists()
    assert list((tmp_path / "datasets").iterdir()) == []


def test_local_path_is_used_without_any_request(served, tmp_path):
    base_url, request_log, _ = served
    local = tmp_path / "my copy.npz"
    local.write_bytes(b"local bytes")
    # No hash check on a file the user gives explicitly.
    assert _fetch(f"{base_url}/data.npz", "0" * 64, str(tmp_path), path=str(local)) == local
    assert request_log == []


def test_missing_local_path_names_the_key_and_the_path(tmp_path):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(DatasetUnavailableError) as raised:
        _fetch("http://127.0.0.1:9/data.npz", None, str(tmp_path), path=str(missing))
    message = str(raised.value)
    assert "Test" in message
    assert "dataset.path" in message
    assert str(missing) in message


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_explains_the_ways_out(tmp_path):
    origin = f"http://127.0.0.1:{_closed_port()}/data.npz"
    with pytest.raises(DatasetUnavailableError) as raised:
        _fetch(origin, None, str(tmp_path / "cache"))
    message = str(raised.value)
    assert "\n" not in message
    assert origin in message
    assert str(cache_path("data.npz", str(tmp_path / "cache"))) in message
    assert "dataset.path=/path/to/data.npz" in message
    assert "dataset.origin=" in message and "dataset.file_hash=" in message
    assert not cache_path("data.npz", str(tmp_path / "cache")).exists()
