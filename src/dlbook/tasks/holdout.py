"""Hold-out protocol: fit with a validation slice of the training data, then test.

The validation data is a slice of the training split (``task.validation.size``), or else the
dataset's own validation split when it has one. The fit follows ``trainer.phases`` when given.

Book 2.1 (no validation), 3.5 (validation = the first 10,000 reviews; then a fresh model on all
25,000 for 4 epochs) and 3.6 (first 1,000 newswires; then 8 epochs on the remaining 7,982).
``task.validation.source: test`` validates on the test split itself, on all the training data
(book 4.4, whose curves are "validation = the IMDB test set").

metrics.json's ``val`` holds each validation metric's best value and its epoch (``loss``,
``loss_epoch``) and its value at the last epoch (``final_loss``): how far a model has overfitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbook.datasets.io.examples import Examples
from dlbook.errors import ConfigError
from dlbook.tasks import TaskResult
from dlbook.tasks.retrain import retrain_and_test, retrain_settings
from dlbook.tasks.summaries import best_validation, final_values


def validation_indices(count: int, size: int | float | None, take: str, seed: int) -> np.ndarray:
    """Indices of the validation slice among ``count`` training examples (empty for size=None)."""
    if size is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(size, float) and 0.0 < size < 1.0:
        size = int(round(count * size))
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size < count:
        raise ConfigError(
            f"task.validation.size={size!r} is not valid for {count} training examples: give a count "
            f"between 1 and {count - 1}, a fraction between 0 and 1, or null for no validation."
        )
    if take == "first":
        return np.arange(size, dtype=np.int64)
    if take == "last":
        return np.arange(count - size, count, dtype=np.int64)
    if take == "random":
        return np.sort(np.random.default_rng(seed).permutation(count)[:size])
    raise ConfigError(f"task.validation.take={take!r} is not valid: use first, last or random.")


def split_validation(train: Examples, size, take: str, seed: int) -> tuple[Examples, Examples | None]:
    """(training part, validation part) of the training split; the book slices ``x_train[:10000]``."""
    held_out = validation_indices(len(train), size, take, seed)
    if not len(held_out):
        return train, None
    kept = np.setdiff1d(np.arange(len(train), dtype=np.int64), held_out, assume_unique=True)
    return train.take(kept), train.take(held_out)


def validation_source(validation: Mapping[str, Any]) -> str:
    """``train`` (a slice of the training split, or the dataset's own validation split) or ``test``."""
    source = validation.get("source") or "train"
    if source not in ("train", "test"):
        raise ConfigError(
            f"task.validation.source={source!r} is not valid: use train (a slice of the training data, "
            "task.validation.size) or test (validate on the test split, as book 4.4 does)."
        )
    if source == "test" and validation.get("size") is not None:
        raise ConfigError(
            f"task.validation.size={validation.get('size')!r} with task.validation.source=test is not valid: "
            "the test split is the validation data, so nothing is held out of the training data. "
            "Set task.validation.size=null, or use task.validation.source=train."
        )
    return source


def run(trainer, *, validation: Mapping[str, Any], retrain: Mapping[str, Any] | None = None) -> TaskResult:
    """Fit for ``trainer.epochs`` (validation curves), optionally retrain a fresh model, then test."""
    settings = trainer.settings
    data = trainer.data
    retrain = retrain_settings(retrain, settings.batch_size)
    source = validation_source(validation)
    fit_part, validation_part = split_validation(
        data.train, validation.get("size"), validation.get("take", "first"), int(trainer.cfg.seed)
    )
    if source == "test":
        validation_part = data.test
    elif validation_part is None and data.validation is not None:
        validation_part = data.validation  # the dataset's own validation split (cats vs dogs 1000-1499)
    model = trainer.new_model()
    history = trainer.fit_phases(model, fit_part, validation_part, batch_size=settings.batch_size)
    metrics: dict[str, Any] = {"train": final_values(history, validation=False)}
    if validation_part is not None:
        final = final_values(history, validation=True)
        metrics["val"] = {**best_validation(history), **{f"final_{name}": value for name, value in final.items()}}
    if retrain is None:
        metrics["test"] = trainer.evaluate(model, data.test)
        return TaskResult(model, metrics)
    retrain_data = data.train if retrain["train_on"] == "all" else fit_part
    model, _, metrics["test"] = retrain_and_test(trainer, retrain, retrain_data, validation_part)
    return TaskResult(model, metrics)
