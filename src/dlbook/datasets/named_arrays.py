"""Your own data for a functional model with named inputs and outputs: one ``.npz`` file.

The file holds ``train/<name>`` and ``test/<name>`` for every input and output name, e.g. for
book 7.1.2: ``train/text``, ``train/question``, ``train/answer``, ``test/text``, ... Save it with
``np.savez("qa.npz", **{"train/text": ..., "train/question": ..., ...})``. Arrays are read with
pickling disabled, so ragged (object) arrays are refused: pad sequences first.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

SPLITS = ("train", "test")


def load(
    *,
    path: str | None,
    inputs: list[str],
    outputs: list[str],
    validation_split: float | None = None,
) -> DataSplits:
    """Named features (``inputs``) and targets (``outputs``) of both splits from the ``.npz`` at ``path``.

    ``validation_split`` (a fraction) holds out the last part of the training arrays as the
    dataset's validation split (used when ``task.validation.size`` is null).
    """
    inputs = _names("inputs", inputs)
    outputs = _names("outputs", outputs)
    overlap = sorted(set(inputs) & set(outputs))
    if overlap:
        raise ConfigError(
            f"dataset.outputs={outputs} is not valid: {', '.join(overlap)} is also an input; each name is one array."
        )
    if validation_split is not None and (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0 < validation_split < 1
    ):
        raise ConfigError(
            f"dataset.validation_split={validation_split!r} is not valid: a fraction between 0 and 1, or null"
        )
    if not path:
        raise ConfigError("dataset.path=null is not valid: give the .npz file with train/<name> and test/<name> arrays")
    file = Path(path).expanduser()
    if not file.is_file():
        raise DatasetUnavailableError(f"dataset.path={path}: no such file")
    arrays = _read(file, [f"{split}/{name}" for split in SPLITS for name in (*inputs, *outputs)])

    splits = {}
    for split in SPLITS:
        lengths = {name: len(arrays[f"{split}/{name}"]) for name in (*inputs, *outputs)}
        if len(set(lengths.values())) != 1:
            described = ", ".join(f"{split}/{name}: {length}" for name, length in lengths.items())
            raise DatasetFormatError(
                f"{file}: the {split} arrays differ in length ({described}); every array of a split needs one "
                "row per example."
            )
        splits[split] = Examples(
            {name: arrays[f"{split}/{name}"] for name in inputs},
            {name: arrays[f"{split}/{name}"] for name in outputs},
        )
    for name in (*inputs, *outputs):
        train_shape, test_shape = arrays[f"train/{name}"].shape[1:], arrays[f"test/{name}"].shape[1:]
        if train_shape != test_shape:
            raise DatasetFormatError(
                f"{file}: train/{name} has examples of shape {train_shape} but test/{name} of shape {test_shape}"
            )

    train, validation = splits["train"], None
    if validation_split is not None:
        held_out = int(round(len(train) * validation_split))
        if not 0 < held_out < len(train):
            raise ConfigError(
                f"dataset.validation_split={validation_split} is not valid for {len(train)} training examples: "
                "it leaves no validation or no training examples"
            )
        validation = train.take(np.arange(len(train) - held_out, len(train)))
        train = train.take(np.arange(len(train) - held_out))
    return DataSplits(
        train=train,
        test=splits["test"],
        validation=validation,
        input_shape={name: tuple(arrays[f"train/{name}"].shape[1:]) for name in inputs},
        source=f"named arrays from {file}",
        differs_from_book=f"your own arrays ({file}), not the book's data",
        info={"inputs": inputs, "outputs": outputs},
    )


def _names(key: str, names) -> list[str]:
    if isinstance(names, str):
        names = [names]
    if names is None or not len(names) or not all(isinstance(name, str) and name for name in names):
        raise ConfigError(
            f"dataset.{key}={names!r} is not valid: a non-empty list of names, e.g. [text, question], "
            "each the name of a model input or output"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset.{key}={list(names)} is not valid: a name is listed twice")
    return list(names)


def _read(file: Path, keys: list[str]) -> dict[str, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as archive:
            present = set(archive.files)
            missing = [key for key in keys if key not in present]
            if missing:
                raise DatasetFormatError(
                    f"{file} is missing the arrays {', '.join(missing)} "
                    f"(it has {', '.join(sorted(present)) or 'none'}). "
                    "It needs train/<name> and test/<name> for every name in dataset.inputs and dataset.outputs."
                )
            arrays = {}
            for key in keys:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:  # an object array needs pickle, which is refused
                    raise DatasetFormatError(
                        f"{file}: {key} is an object array (e.g. ragged lists), which dlbook does not unpickle; "
                        f"save it as a numeric array (pad sequences to one length): {error}"
                    ) from error
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:  # ValueError: not a zip, NumPy tried pickle
        raise DatasetFormatError(f"{file} is not a readable .npz file: {error}") from error
    for key, array in arrays.items():
        if array.ndim == 0:
            raise DatasetFormatError(f"{file}: {key} is a single value, not an array of examples")
    return arrays
