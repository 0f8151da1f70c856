"""Find a dataset file: a local path, Keras' download cache, or a download into that cache.

The cache is Keras' own (``<cache_dir>/datasets/<fname>``, by default ``$KERAS_HOME`` or
``~/.keras``), so files that Keras already downloaded are reused and vice versa. Every failure
becomes a :class:`DatasetUnavailableError` or :class:`DatasetFormatError` whose message says how to
get the file another way (the machine may be offline).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from dlbook.errors import DatasetFormatError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

_FETCH_FAILURE_PREFIX = "URL fetch failure on "


def keras_home() -> Path:
    """Keras' home folder: ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` if home is read-only).

    Read from the environment at each call (Keras reads it once, at import), so that a test or
    a user who sets ``KERAS_HOME`` later still gets the folder they asked for.
    """
    if "KERAS_HOME" in os.environ:
        return Path(os.path.expanduser(os.environ["KERAS_HOME"]))
    home = os.path.expanduser("~")
    base = home if os.access(home, os.W_OK) else "/tmp"
    return Path(base) / ".keras"


def cache_path(fname: str, cache_dir: str | None = None) -> Path:
    """Where the cache keeps ``fname``: ``<cache_dir or Keras' home>/datasets/<fname>``."""
    root = Path(os.path.expanduser(cache_dir)) if cache_dir else keras_home()
    return root / "datasets" / fname


def cached(fname: str, cache_dir: str | None = None) -> Path | None:
    """The cached copy of ``fname`` if there is one (never downloads), else None."""
    target = cache_path(fname, cache_dir)
    return target if target.is_file() else None


def file_hash_of(path: Path, file_hash: str) -> str:
    """The hash of ``path`` in the algorithm of ``file_hash``: sha256 for 64 hex digits, else md5.

    This is the rule of ``keras.utils.get_file(hash_algorithm="auto")``.
    """
    hasher = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def fetch(
    name: str,
    *,
    fname: str,
    origin: str,
    file_hash: str | None,
    path: str | None,
    cache_dir: str | None,
) -> Path:
    """Return the local file of dataset ``name``.

    ``path`` given: that file is used as is (no download, no hash check). Otherwise the cached
    ``<cache_dir>/datasets/<fname>`` is used when it matches ``file_hash``; else the file is
    downloaded from ``origin`` into the cache with ``keras.utils.get_file`` and checked.
    """
    if path is not None:
        return _local_file(name, str(path))
    if file_hash is not None:
        # A hash of digits only would reach us as a YAML integer.
        file_hash = str(file_hash)

    target = cache_path(fname, cache_dir)
    if target.is_file():
        if file_hash is None or file_hash_of(target, file_hash) == file_hash.lower():
            logger.info("%s: using cached %s", name, target)
            return target
        logger.warning(
            "%s: cached %s does not match dataset.file_hash=%s; downloading it again", name, target, file_hash
        )

    logger.info("%s: downloading %s into %s", name, origin, target.parent)
    downloaded = _download(name, fname=fname, origin=origin, file_hash=file_hash, target=target)
    logger.info("%s: using downloaded %s", name, downloaded)
    return downloaded


def _local_file(name: str, path: str) -> Path:
    local = Path(os.path.expanduser(path))
    if not local.is_file():
        what = "is a folder, not a file" if local.is_dir() else "does not exist"
        raise DatasetUnavailableError(
            f"The {name} dataset file given by dataset.path={path} {what} "
            f"(looked at {local.resolve()}). Point dataset.path at the dataset file, "
            "or set dataset.path=null to use the download cache."
        )
    logger.info("%s: using local file %s", name, local)
    return local


def _download(name: str, *, fname: str, origin: str, file_hash: str | None, target: Path) -> Path:
    import keras

    # get_file silently switches to /tmp/.keras when the cache folder does not exist yet, so
    # create it first: the file must land where cache_path() (and the error messages) say.
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.warning("%s: cannot create the cache folder %s (%s)", name, target.parent, error)

    try:
        downloaded = keras.utils.get_file(
            fname,
            origin=origin,
            file_hash=file_hash,
            cache_dir=str(target.parent.parent),
            cache_subdir="datasets",
        )
    except ValueError as error:
        # get_file raises ValueError when the downloaded file's hash differs, and leaves it there.
        bad = target if target.is_file() else None
        if file_hash is None or bad is None:
            raise
        actual = file_hash_of(bad, file_hash)
        bad.unlink()
        raise DatasetFormatError(
            f"The {name} file downloaded from {origin} does not have the expected hash "
            f"dataset.file_hash={file_hash} (it has {actual}), so dlbook deleted it from {bad}. "
            "If this mirror serves another valid version of the file, set dataset.file_hash to its "
            "hash (or dataset.file_hash=null to skip the check); otherwise fix dataset.origin."
        ) from error
    except Exception as error:
        # get_file turns every network error into a plain Exception("URL fetch failure on ...").
        reason = str(error)
        if reason.startswith(_FETCH_FAILURE_PREFIX + origin):
            reason = reason[len(_FETCH_FAILURE_PREFIX + origin) :].lstrip(": ")
        raise DatasetUnavailableError(
            f"Cannot download the {name} dataset from {origin} ({reason}), and dlbook did not find "
            f"it in the cache at {target}. Either give a local copy with dataset.path=/path/to/{fname}, "
            f"or place the file at {target} (dataset.cache_dir= moves the cache folder); to use a "
            "mirror instead, set dataset.origin=<url> and dataset.file_hash=<its sha256> "
            "(or dataset.file_hash=null)."
        ) from error
    return Path(downloaded)
