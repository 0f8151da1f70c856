"""load_npz(): reads Keras' pickled object arrays, refuses any other pickled object."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from fakes import write_imdb_npz

from dlbook.datasets.io.safe_npz import load_npz
from dlbook.errors import DatasetFormatError


def _ragged(rows):
    array = np.empty(len(rows), dtype=object)
    for index, row in enumerate(rows):
        array[index] = row
    return array


def test_reads_object_and_numeric_members(tmp_path):
    file = tmp_path / "mixed.npz"
    np.savez(file, x=_ragged([[1, 2, 3], [4], []]), y=np.array([0, 1, 1], dtype=np.int64))
    arrays = load_npz(file)
    assert [list(row) for row in arrays["x"]] == [[1, 2, 3], [4], []]
    assert arrays["y"].dtype == np.int64
    assert arrays["y"].tolist() == [0, 1, 1]


def test_reads_files_pickled_by_numpy_1(tmp_path):
    # The real Keras files were written by NumPy 1.x, whose pickles name numpy.core.multiarray.
    # Protocol 3 (NumPy 1.x's choice) names globals as plain text, so they can be renamed here.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (2,)})
    pickled = pickle.dumps(_ragged([[5, 6], [7]]), protocol=3)
    old_style = header.getvalue() + pickled.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old_style
    file = tmp_path / "old.npz"
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr("x.npy", old_style)
    assert [list(row) for row in load_npz(file)["x"]] == [[5, 6], [7]]


def test_reads_a_fake_imdb_file(tmp_path):
    arrays = load_npz(write_imdb_npz(tmp_path / "imdb.npz", n_train=5, n_test=3))
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    assert arrays["x_train"].dtype == object and len(arrays["x_train"]) == 5


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_npz(path, marker):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    member = header.getvalue() + pickle.dumps(_Payload(marker), protocol=3)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", member)
        archive.writestr("y.npy", b"")
    return path


def test_refuses_a_pickled_function_call_without_running_it(tmp_path):
    marker = tmp_path / "payload-ran"
    file = _malicious_npz(tmp_path / "evil.npz", marker)
    with pytest.raises(DatasetFormatError) as raised:
        load_npz(file)
    message = str(raised.value)
    assert "refusing to unpickle" in message
    assert "system" in message
    assert str(file) in message
    assert not marker.exists()


def test_not_a_zip_file_names_the_file(tmp_path):
    file = tmp_path / "truncated.npz"
    file.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DatasetFormatError, match="truncated.npz"):
        load_npz(file)


def test_missing_keys_name_the_file_and_the_keys(tmp_path):
    file = tmp_path / "other.npz"
    np.savez(file, a=np.zeros(3))
    with pytest.raises(DatasetFormatError) as raised:
        load_npz(file, required=("x", "y"))
    assert "other.npz" in str(raised.value)
    assert "x, y" in str(raised.value)
