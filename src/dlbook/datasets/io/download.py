"""Find a dataset file: a local path, Keras' download cache, or a download into that cache.

The cache is Keras' own (``<cache_dir>/datasets/<fname>``, by default ``$KERAS_HOME`` or
``~/.keras``), so files that Keras already downloaded are reused and vice versa. Every failure
becomes a :class:`DatasetUnavailableError`, :class:`DatasetFormatError` or :class:`ConfigError`
whose message says how to get the file another way (the machine may be offline).

Safety rules of a download:

- Only https origins are downloaded from, unless the user gave the origin on the command line
  (an override whose key ends in ``origin``, e.g. ``dataset.origin=http://mirror/imdb.npz``): a
  plain-http URL is then the user's explicit choice; one that comes from a config file (the
  catalogue's, or an experiment file) is refused. A Python caller that passes ``origin`` itself,
  outside a dlbook command, chooses it just as explicitly. The catalogue's origins are all https.
- A download lands under a temporary name and becomes ``<fname>`` only once checked: against
  ``file_hash`` when there is one, else, for an archive, by reading it through (a cut transfer).
- A bad file is never deleted silently: it is renamed ``<fname>.corrupt-<timestamp>`` beside the
  cache's copy. A cached file that fails its hash is moved aside and downloaded once more; a bad
  download is retried once; a second bad copy ends in :class:`CorruptDownloadError`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from dlbook.datasets.io.archives import archive_problem
from dlbook.errors import ConfigError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

_FETCH_FAILURE_PREFIX = "URL fetch failure on "


class InsecureOriginError(ConfigError):
    """A non-https origin that comes from a config file rather than from the user's command line."""


class CorruptDownloadError(DatasetUnavailableError):
    """Two copies of a dataset file in a row (cached or downloaded) failed their check."""


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


def origin_given_on_command_line() -> bool:
    """Whether the running dlbook command got an ``origin`` override (``dataset.origin=...``, ``+x.origin=...``).

    Outside a Hydra job (a direct Python call) there is no command line: the caller passed the
    origin itself, which counts as given.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return True
    for override in HydraConfig.get().overrides.task:
        key = override.split("=", 1)[0].lstrip("+")
        if key == "origin" or key.endswith(".origin"):
            return True
    return False


def check_origin(name: str, origin: str, fname: str) -> None:
    """Refuse to download from a non-https ``origin`` unless the user gave it (see the module doc)."""
    scheme = urlparse(str(origin)).scheme.lower()
    if scheme == "https":
        return
    if origin_given_on_command_line():
        logger.warning(
            "%s: downloading from %s over %s, not https, since that origin was given explicitly; only "
            "dataset.file_hash, when set, checks what arrives",
            name,
            origin,
            scheme or "an unknown scheme",
        )
        return
    raise InsecureOriginError(
        f"dataset.origin={origin} is not valid here: dlbook downloads the {name} dataset only from an https "
        "URL unless you give the URL yourself, and this one comes from a config file. Use an https mirror; or, "
        f"to download from this URL anyway, put it on the command line: dataset.origin={origin} (for a file "
        "other than the dataset, the key of its config, e.g. embedding.glove.origin=...), keeping "
        f"dataset.file_hash set so that the file is still checked; or give a local copy with "
        f"dataset.path=/path/to/{fname}."
    )


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
    ``<cache_dir>/datasets/<fname>`` is used when it matches ``file_hash`` (or there is no hash);
    else ``origin`` is downloaded into the cache with ``keras.utils.get_file`` and checked. A copy
    that fails its check is moved aside and downloaded once more (see the module doc).
    """
    if path is not None:
        return _local_file(name, str(path))
    if file_hash is not None:
        # A hash of digits only would reach us as a YAML integer.
        file_hash = str(file_hash).lower()

    target = cache_path(fname, cache_dir)
    bad_copies: list[Path] = []
    if target.is_file():
        if file_hash is None:
            logger.info("%s: using cached %s", name, target)
            return target
        actual = file_hash_of(target, file_hash)
        if actual == file_hash:
            logger.info("%s: using cached %s", name, target)
            return target
        check_origin(name, origin, fname)
        try:
            bad_copies.append(move_aside(target))
        except FileNotFoundError:
            pass  # another job of a sweep moved it aside first
        else:
            logger.warning(
                "%s: cached %s has the hash %s, not dataset.file_hash=%s; moved it to %s and downloading it again",
                name,
                target,
                actual,
                file_hash,
                bad_copies[-1],
            )
    else:
        check_origin(name, origin, fname)

    cache_was_bad = bool(bad_copies)
    problem = ""
    while len(bad_copies) < 2:
        logger.info("%s: downloading %s into %s", name, origin, target.parent)
        downloaded = _download(name, fname=fname, origin=origin, target=target)
        try:
            problem = _problem_of(downloaded, fname, file_hash)
        except BaseException:
            downloaded.unlink(missing_ok=True)  # an unchecked partial file, not a copy to keep
            raise
        if problem is None:
            final = downloaded.with_name(fname)
            os.replace(downloaded, final)
            logger.info("%s: using downloaded %s", name, final)
            return final
        bad_copies.append(move_aside(downloaded, fname))
        logger.warning(
            "%s: the file downloaded from %s is damaged (%s); moved it to %s", name, origin, problem, bad_copies[-1]
        )

    what = (
        f"the cached {name} file failed its check and the copy downloaded again from {origin} is damaged too"
        if cache_was_bad
        else f"two downloads in a row of the {name} file from {origin} are damaged"
    )
    raise CorruptDownloadError(
        f"Cannot get a good copy: {what}: {problem}. dlbook kept the bad copies as "
        f"{' and '.join(map(str, bad_copies))} (delete them when done). Ways out: give a good local copy with "
        f"dataset.path=/path/to/{fname}, or place it at {target} (dataset.cache_dir= moves the cache folder); or "
        "download from another mirror with dataset.origin=<url>. If this mirror serves another valid version of "
        "the file, set dataset.file_hash=<its hash> (or dataset.file_hash=null to skip the check)."
    )


def move_aside(path: Path, fname: str | None = None) -> Path:
    """Rename the bad file ``path`` to ``<fname>.corrupt-<timestamp>`` in its folder (kept, never deleted)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    aside = path.with_name(f"{fname or path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    return aside


def _problem_of(path: Path, fname: str, file_hash: str | None) -> str | None:
    """Why the downloaded ``path`` is bad (a hash that differs, a cut archive), or None when it is good."""
    if file_hash is not None:
        actual = file_hash_of(path, file_hash)
        if actual != file_hash:
            algorithm = "sha256" if len(file_hash) == 64 else "md5"
            return f"its {algorithm} is {actual}, not the expected dataset.file_hash={file_hash}"
        return None
    return archive_problem(path, fname)


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


def _download(name: str, *, fname: str, origin: str, target: Path) -> Path:
    """Download ``origin`` beside ``target`` under a temporary name (unchecked); returns that file.

    Concurrent jobs that download the same file each write their own temporary file, and a
    checked file replaces ``target`` in one rename, so no job ever reads a half-written file.
    """
    import keras

    # get_file silently switches to /tmp/.keras when the cache folder does not exist yet, so
    # create it first: the file must land where cache_path() (and the error messages) say.
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.warning("%s: cannot create the cache folder %s (%s)", name, target.parent, error)

    partial = f".{fname}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
    try:
        downloaded = keras.utils.get_file(
            partial, origin=origin, cache_dir=str(target.parent.parent), cache_subdir="datasets"
        )
    except Exception as error:
        # get_file turns every network error into a plain Exception("URL fetch failure on ..."),
        # and removes its partial file.
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
