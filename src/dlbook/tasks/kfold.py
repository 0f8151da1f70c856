"""K-fold cross-validation (book 3.7), then a final model on all training data, tested.

As in the book, fold i validates on examples [i*n//K, (i+1)*n//K) and trains on the rest, each
with a fresh model; the fold scores are the validation metrics after the last epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbook.errors import ConfigError
from dlbook.tasks import TaskResult
from dlbook.tasks.retrain import retrain_and_test, retrain_settings
from dlbook.tasks.summaries import best_validation, final_values, mean_history


def fold_indices(count: int, folds: int, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, validation indices) of ``fold`` (0-based), the book's way."""
    fold_size = count // folds
    validation = np.arange(fold * fold_size, (fold + 1) * fold_size, dtype=np.int64)
    training = np.concatenate(
        [
            np.arange(0, fold * fold_size, dtype=np.int64),
            np.arange((fold + 1) * fold_size, count, dtype=np.int64),
        ]
    )
    return training, validation


def run(trainer, *, folds: int, retrain: Mapping[str, Any] | None = None) -> TaskResult:
    """Cross-validate over ``folds`` folds, then (optionally) retrain on everything and test."""
    settings = trainer.settings
    train = trainer.data.train
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= len(train):
        raise ConfigError(
            f"task.folds={folds!r} is not valid: give a number of folds between 2 and the number of "
            f"training examples ({len(train)}); the book uses task.folds=4."
        )
    retrain = retrain_settings(retrain, settings.batch_size)
    histories = []
    for fold in range(folds):
        training, validation = fold_indices(len(train), folds, fold)
        model = trainer.new_model()
        histories.append(
            trainer.fit(
                model,
                f"fold_{fold + 1}",
                train.take(training),
                train.take(validation),
                epochs=settings.epochs,
                batch_size=settings.batch_size,
            )
        )
    scores = [final_values(history, validation=True) for history in histories]
    kfold: dict[str, Any] = {}
    for name in scores[0]:
        per_fold = [score[name] for score in scores]
        kfold[f"val_{name}"] = per_fold
        kfold[f"val_{name}_mean"] = float(np.mean(per_fold))
    averaged = mean_history(histories)
    metrics: dict[str, Any] = {
        "kfold": kfold,
        # The best epoch of the fold-averaged validation curve (the book's 500-epoch plot).
        "val": best_validation(averaged),
        "train": final_values(averaged, validation=False),
    }
    if retrain is None:
        metrics["test"] = trainer.evaluate(model, trainer.data.test)
        return TaskResult(model, metrics)
    model, _, metrics["test"] = retrain_and_test(trainer, retrain, train, None)
    return TaskResult(model, metrics)
