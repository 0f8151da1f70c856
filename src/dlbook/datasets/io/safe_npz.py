"""Read a ``.npz`` file without letting it run code.

Keras' ``imdb.npz`` and ``reuters.npz`` store ragged sequences as object arrays of Python lists,
which NumPy can only save as a pickle. ``np.load(allow_pickle=True)`` would unpickle anything,
including a tampered file that calls ``os.system``; here object members go through an unpickler
that can only rebuild NumPy arrays, and every other member is read with pickling disabled.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dlbook.errors import DatasetFormatError

try:  # NumPy >= 2 (also present in 1.26 as the future name)
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - older NumPy
    from numpy.core import multiarray as _multiarray

# The globals a pickled object array (of lists, ints, NumPy scalars) refers to. Both spellings of
# the multiarray module are accepted (files written by NumPy 1.x say numpy.core, by 2.x
# numpy._core) and resolved here directly, without importing the deprecated numpy.core alias.
ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only the globals in ``allowed`` (NumPy array reconstruction by default) and plain data.

    Anything else (a pickle naming ``os.system``, say) raises DatasetFormatError naming ``source``;
    nothing from the file runs. ``encoding`` decodes Python 2 strings ("latin1" as NumPy does,
    "bytes" to keep them bytes as Keras' CIFAR-10 loader does).
    """

    def __init__(
        self, stream, source: str, allowed=None, encoding: str = "latin1", what: str = "a dataset file"
    ) -> None:
        super().__init__(stream, encoding=encoding)
        self._source = source
        self._allowed = ARRAY_GLOBALS if allowed is None else allowed
        self._what = what

    def find_class(self, module: str, name: str) -> object:
        allowed = self._allowed.get((module, name))
        if allowed is None:
            raise DatasetFormatError(
                f"refusing to unpickle {module}.{name} from {self._source}: {self._what} may only "
                "contain NumPy arrays and plain data. The file is corrupted or was tampered with; delete it "
                "and download it again."
            )
        return allowed


def load_npz(path: str | Path, required: Iterable[str] = (), expected: str | None = None) -> dict[str, np.ndarray]:
    """Read every ``.npy`` member of the ``.npz`` at ``path`` into a dict keyed by member name.

    Object-dtype members are unpickled with an unpickler restricted to NumPy array
    reconstruction; the others load with ``allow_pickle=False``. A file that is not a valid
    ``.npz``, or lacks one of the ``required`` keys, raises :class:`DatasetFormatError`; its
    message ends with ``expected`` (what file belongs here and how to get it), when given.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                key = member[: -len(".npy")]
                with archive.open(member) as raw:
                    buffer = io.BytesIO(raw.read())
                arrays[key] = _read_member(buffer, f"{path} (member {key})")
    except zipfile.BadZipFile as error:
        raise DatasetFormatError(
            f"{path} is not a .npz file ({error}); it may be truncated or the wrong file. "
            + (expected or "Delete it and download it again, or point dataset.path at the right file.")
        ) from error
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DatasetFormatError(
            f"{path} lacks the arrays {', '.join(missing)} (it has: {', '.join(sorted(arrays)) or 'none'}); "
            "it is not the dataset file expected here." + (f" {expected}" if expected else "")
        )
    return arrays


def expected_keras_npz(fname: str, keys: Iterable[str], origin: str) -> str:
    """The sentence that says which Keras file a loader reads and how to get it (for :func:`load_npz`)."""
    return (
        f"Expected Keras' {fname}: a NumPy .npz archive holding the arrays {', '.join(keys)}. Get it from "
        f"{origin} (with dataset.path=null dlbook downloads it into its cache), or point dataset.path at a "
        "copy of that file."
    )


def _read_member(buffer: io.BytesIO, source: str) -> np.ndarray:
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            # Formats 2.0 and 3.0 share the header layout (3.0 only encodes it as UTF-8).
            _, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    except ValueError as error:
        raise DatasetFormatError(f"{source} is not a valid .npy array: {error}") from error

    if not dtype.hasobject:
        buffer.seek(0)
        try:
            return np.lib.format.read_array(buffer, allow_pickle=False)
        except ValueError as error:
            raise DatasetFormatError(f"{source} is not a valid .npy array: {error}") from error

    # An object array is stored as one pickle of the whole array, right after the header.
    try:
        array = RestrictedUnpickler(buffer, source).load()
    except DatasetFormatError:
        raise
    except Exception as error:
        raise DatasetFormatError(f"{source} holds a damaged pickled array: {error}") from error
    if not isinstance(array, np.ndarray):
        raise DatasetFormatError(f"{source} holds a {type(array).__name__}, not an array")
    return array
