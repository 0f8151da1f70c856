"""CIFAR-10 from a tiny cifar-10-python.tar.gz made here in the real format, and refusals of tampered files."""

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import pytest
from fakes import PER_BATCH, assert_config_matches, write_cifar_archive

from dlbook.datasets import cifar10
from dlbook.errors import ConfigError, DatasetFormatError


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_reads_the_archive_in_the_real_layout(tmp_path):
    data = cifar10.load(path=str(write_cifar_archive(tmp_path / "cifar-10-python.tar.gz")))
    assert data.input_shape == (32, 32, 3)
    assert len(data.train) == 5 * PER_BATCH and len(data.test) == PER_BATCH
    images, labels = data.train.features, data.train.targets
    assert images.dtype == np.float32 and images.shape == (100, 32, 32, 3)
    # Channels last: red plane = label, green = 100 + label, blue = 0; scaled by 1/255.
    np.testing.assert_allclose(images[:, 5, 7, 0], labels / 255.0, rtol=1e-6)
    np.testing.assert_allclose(images[:, 5, 7, 1], (100 + labels) / 255.0, rtol=1e-6)
    assert images[..., 2].max() == 0.0
    assert labels.dtype == np.int32 and labels[:3].tolist() == [1, 2, 3]


def test_class_filter_and_rescale(tmp_path):
    archive = write_cifar_archive(tmp_path / "cifar.tar.gz")
    frogs = cifar10.load(path=str(archive), class_index=6, rescale=1.0)
    assert set(frogs.train.targets.tolist()) == {6} and len(frogs.train) == 10
    assert set(frogs.test.targets.tolist()) == {6} and len(frogs.test) == 2
    assert frogs.train.features[..., 0].max() == 6.0
    assert "frog" in frogs.source


def test_reads_an_extracted_folder(tmp_path):
    archive = write_cifar_archive(tmp_path / "cifar.tar.gz")
    with tarfile.open(archive) as opened:
        opened.extractall(tmp_path / "extracted", filter="data")
    for folder in (tmp_path / "extracted", tmp_path / "extracted" / "cifar-10-batches-py"):
        assert len(cifar10.load(path=str(folder)).train) == 100


def test_refuses_a_malicious_pickle(tmp_path):
    archive = write_cifar_archive(
        tmp_path / "cifar.tar.gz", replace={"cifar-10-batches-py/data_batch_3": pickle.dumps({b"data": _Evil()})}
    )
    with pytest.raises(DatasetFormatError, match="refusing to unpickle .*system"):
        cifar10.load(path=str(archive))


def test_refuses_a_codecs_call_other_than_latin1():
    # GLOBAL _codecs.encode, then ("abc", "zlib_codec") as its arguments: only latin1 may pass.
    raw = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcX\n\x00\x00\x00zlib_codec\x86R."
    with pytest.raises(DatasetFormatError, match="zlib_codec"):
        cifar10.read_batch(raw, "crafted")


def test_refuses_a_member_outside_the_folder(tmp_path):
    archive = write_cifar_archive(tmp_path / "cifar.tar.gz", extra={"../escaped.txt": b"x"})
    with pytest.raises(DatasetFormatError, match="outside its folder"):
        cifar10.load(path=str(archive))
    assert not (tmp_path / "escaped.txt").exists()


def test_helpful_errors(tmp_path):
    with pytest.raises(ConfigError, match="6 frog"):
        cifar10.load(path="unused", class_index=10)
    incomplete = write_cifar_archive(tmp_path / "a.tar.gz", replace={"cifar-10-batches-py/test_batch": b""})
    with pytest.raises(DatasetFormatError, match="test_batch"):
        cifar10.load(path=str(incomplete))
    not_tar = tmp_path / "b.tar.gz"
    not_tar.write_bytes(b"not an archive")
    with pytest.raises(DatasetFormatError, match="not a readable"):
        cifar10.load(path=str(not_tar))


def test_config_matches_loader():
    assert_config_matches("cifar10", cifar10.load)
