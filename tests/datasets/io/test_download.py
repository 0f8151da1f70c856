"""fetch(): local path, Keras cache, download from a (local) server, bad copies moved aside, the errors a user sees."""

import hashlib
import io
import os
import socket
import tarfile

import pytest
from fakes import serve_directory

from dlbook.datasets.io import download
from dlbook.datasets.io.download import (
    CorruptDownloadError,
    InsecureOriginError,
    cache_path,
    cached,
    check_origin,
    fetch,
)
from dlbook.errors import ConfigError, DatasetUnavailableError


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


def _corrupt_copies(folder):
    return sorted(folder.glob("data.npz.corrupt-*"))


def test_cached_file_with_wrong_hash_is_moved_aside_and_downloaded_again(served, tmp_path):
    base_url, request_log, digest = served
    stale = cache_path("data.npz", str(tmp_path))
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older version")

    assert _fetch(f"{base_url}/data.npz", digest, str(tmp_path)).read_bytes() == b"dataset bytes " * 100
    assert request_log == ["/data.npz"]
    # The bad copy is kept beside the good one, never deleted silently.
    (aside,) = _corrupt_copies(stale.parent)
    assert aside.read_bytes() == b"an older version"
    assert sorted(path.name for path in stale.parent.iterdir()) == ["data.npz", aside.name]


def test_checksum_mismatch_is_downloaded_twice_then_explained(served, tmp_path):
    base_url, request_log, digest = served
    expected = "0" * 64
    with pytest.raises(CorruptDownloadError) as raised:
        _fetch(f"{base_url}/data.npz", expected, str(tmp_path))
    assert isinstance(raised.value, DatasetUnavailableError)
    assert request_log == ["/data.npz", "/data.npz"]
    message = str(raised.value)
    assert "\n" not in message
    assert f"{base_url}/data.npz" in message
    assert expected in message and digest in message  # the expected and the actual hash
    assert "dataset.path=/path/to/data.npz" in message
    assert str(cache_path("data.npz", str(tmp_path))) in message
    assert "dataset.file_hash" in message
    assert not cache_path("data.npz", str(tmp_path)).exists()
    copies = _corrupt_copies(tmp_path / "datasets")
    assert len(copies) == 2 and all(copy.read_bytes() == b"dataset bytes " * 100 for copy in copies)
    assert all(str(copy) in message for copy in copies)
    assert sorted(path.name for path in (tmp_path / "datasets").iterdir()) == [copy.name for copy in copies]


def test_corrupt_cache_and_a_bad_server_stop_after_one_download(served, tmp_path):
    base_url, request_log, _ = served
    stale = cache_path("data.npz", str(tmp_path))
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older version")
    with pytest.raises(CorruptDownloadError, match="the cached Test file failed its check"):
        _fetch(f"{base_url}/data.npz", "0" * 64, str(tmp_path))
    assert request_log == ["/data.npz"]
    assert len(_corrupt_copies(stale.parent)) == 2 and not stale.exists()


def test_a_download_damaged_in_transit_is_retried_once(served, tmp_path, monkeypatch):
    base_url, request_log, digest = served
    real_download = download._download

    def damaging_first(*args, **kwargs):
        downloaded = real_download(*args, **kwargs)
        if len(request_log) == 1:
            downloaded.write_bytes(b"cut sh")
        return downloaded

    monkeypatch.setattr(download, "_download", damaging_first)
    fetched = _fetch(f"{base_url}/data.npz", digest, str(tmp_path))
    assert fetched.read_bytes() == b"dataset bytes " * 100
    assert request_log == ["/data.npz", "/data.npz"]
    (aside,) = _corrupt_copies(fetched.parent)
    assert aside.read_bytes() == b"cut sh"


def _tar_gz(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_a_truncated_archive_without_hash_is_retried_then_explained(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    whole = _tar_gz(tmp_path / "whole.tar.gz", {f"top/{i}.bin": os.urandom(4000) for i in range(8)}).read_bytes()
    (folder / "data.tar.gz").write_bytes(whole[: len(whole) // 2])
    cache_dir = str(tmp_path / "cache")
    with serve_directory(folder) as (base_url, request_log):
        with pytest.raises(CorruptDownloadError) as raised:
            fetch(
                "Test",
                fname="data.tar.gz",
                origin=f"{base_url}/data.tar.gz",
                file_hash=None,
                path=None,
                cache_dir=cache_dir,
            )
    assert request_log == ["/data.tar.gz", "/data.tar.gz"]
    message = str(raised.value)
    assert "not a complete archive" in message and "data.tar.gz" in message
    assert not cache_path("data.tar.gz", cache_dir).exists()
    assert len(list(cache_path("data.tar.gz", cache_dir).parent.glob("data.tar.gz.corrupt-*"))) == 2


def test_a_complete_archive_without_hash_is_used(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    _tar_gz(folder / "data.tar.gz", {"top/a.txt": b"a"})
    with serve_directory(folder) as (base_url, request_log):
        fetched = fetch(
            "Test",
            fname="data.tar.gz",
            origin=f"{base_url}/data.tar.gz",
            file_hash=None,
            path=None,
            cache_dir=str(tmp_path),
        )
    assert fetched == cache_path("data.tar.gz", str(tmp_path)) and request_log == ["/data.tar.gz"]
    assert [path.name for path in fetched.parent.iterdir()] == ["data.tar.gz"]  # no partial file left


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


@pytest.fixture
def dlbook_job():
    """Make HydraConfig look as in a `dlbook train <overrides>` job (reset afterwards)."""
    from composing import compose_train_config
    from hydra.core.hydra_config import HydraConfig

    yield lambda *overrides: HydraConfig.instance().set_config(compose_train_config(*overrides))
    HydraConfig.instance().cfg = None


def test_an_http_origin_from_a_config_file_is_refused(served, tmp_path, dlbook_job):
    base_url, request_log, digest = served
    dlbook_job("experiment=imdb")
    with pytest.raises(InsecureOriginError) as raised:
        _fetch(f"{base_url}/data.npz", digest, str(tmp_path))
    assert isinstance(raised.value, ConfigError)
    message = str(raised.value)
    assert "\n" not in message
    assert f"dataset.origin={base_url}/data.npz" in message and "https" in message
    assert "dataset.path=/path/to/data.npz" in message
    assert request_log == []
    # https is always accepted.
    check_origin("Test", "https://example.org/data.npz", "data.npz")


@pytest.mark.parametrize(
    "overrides",
    [
        ("experiment=imdb", "dataset.origin={url}"),
        ("experiment=imdb", "++dataset.origin={url}"),
        ("experiment=imdb_glove", "embedding.glove.origin={url}"),
    ],
)
def test_an_http_origin_given_on_the_command_line_is_downloaded(served, tmp_path, dlbook_job, overrides):
    base_url, request_log, digest = served
    dlbook_job(*(override.format(url=f"{base_url}/data.npz") for override in overrides))
    assert _fetch(f"{base_url}/data.npz", digest, str(tmp_path)).read_bytes() == b"dataset bytes " * 100
    assert request_log == ["/data.npz"]


def test_a_cached_file_needs_no_origin_check(served, tmp_path, dlbook_job):
    base_url, request_log, digest = served
    _fetch(f"{base_url}/data.npz", digest, str(tmp_path))  # outside a job: the caller chose the origin
    dlbook_job("experiment=imdb")
    assert _fetch(f"{base_url}/data.npz", digest, str(tmp_path)).is_file()
    assert request_log == ["/data.npz"]
