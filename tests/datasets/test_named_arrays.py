"""Named arrays from a user's .npz: train/<name> and test/<name> for every input and output."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.datasets.named_arrays import load
from dlbook.errors import ConfigError, DatasetFormatError


def write(path, **arrays):
    np.savez(path, **{key.replace("__", "/"): value for key, value in arrays.items()})
    return str(path)


def qa_file(path, train=10, test=4):
    return write(
        path,
        train__text=np.ones((train, 6), np.int32),
        train__question=np.ones((train, 3), np.int32),
        train__answer=np.zeros((train, 5), np.float32),
        test__text=np.ones((test, 6), np.int32),
        test__question=np.ones((test, 3), np.int32),
        test__answer=np.zeros((test, 5), np.float32),
    )


def test_loads_named_features_and_targets(tmp_path):
    data = load(path=qa_file(tmp_path / "qa.npz"), inputs=["text", "question"], outputs=["answer"])
    assert set(data.train.features) == {"text", "question"}
    assert set(data.train.targets) == {"answer"}
    assert data.input_shape == {"text": (6,), "question": (3,)}
    assert len(data.train) == 10 and len(data.test) == 4 and data.validation is None


def test_validation_split_holds_out_the_last_training_examples(tmp_path):
    data = load(path=qa_file(tmp_path / "qa.npz"), inputs=["text", "question"], outputs="answer", validation_split=0.2)
    assert len(data.train) == 8 and len(data.validation) == 2


def test_missing_keys_are_named(tmp_path):
    path = write(tmp_path / "bad.npz", train__text=np.ones((3, 2)), test__text=np.ones((3, 2)))
    with pytest.raises(DatasetFormatError, match="missing the arrays train/answer, test/answer"):
        load(path=path, inputs=["text"], outputs=["answer"])


def test_mismatched_lengths_are_named(tmp_path):
    path = write(
        tmp_path / "bad.npz",
        train__text=np.ones((3, 2)),
        train__answer=np.ones(4),
        test__text=np.ones((2, 2)),
        test__answer=np.ones(2),
    )
    with pytest.raises(DatasetFormatError, match=r"train arrays differ in length \(train/text: 3, train/answer: 4\)"):
        load(path=path, inputs=["text"], outputs=["answer"])


def test_object_arrays_are_refused(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2], [3]]
    path = write(
        tmp_path / "ragged.npz", train__text=ragged, train__y=np.ones(2), test__text=ragged, test__y=np.ones(2)
    )
    with pytest.raises(DatasetFormatError, match="train/text is an object array"):
        load(path=path, inputs=["text"], outputs=["y"])


def test_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.inputs=\[\] is not valid"):
        load(path="x.npz", inputs=[], outputs=["y"])
    with pytest.raises(ConfigError, match=r"dataset\.path=null"):
        load(path=None, inputs=["x"], outputs=["y"])
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("hello")
    with pytest.raises(DatasetFormatError, match="not a readable .npz"):
        load(path=str(not_npz), inputs=["x"], outputs=["y"])
