"""The book's last step: a fresh model trained for a fixed number of epochs, then tested."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbook.datasets.io.examples import Examples
from dlbook.errors import ConfigError


def retrain_settings(retrain: Mapping[str, Any] | None, default_batch_size: int) -> dict[str, Any] | None:
    """Validated ``task.retrain`` settings, or None when the task has no retrain step."""
    if retrain is None:
        return None
    epochs = retrain.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ConfigError(
            f"task.retrain.epochs={epochs!r} is not valid: give a positive number of epochs "
            "(e.g. task.retrain.epochs=4), or task.retrain=null for no retrain step."
        )
    batch_size = retrain.get("batch_size") or default_batch_size
    train_on = retrain.get("train_on", "all")
    if train_on not in ("all", "train"):
        raise ConfigError(
            f"task.retrain.train_on={train_on!r} is not valid: 'all' (every training example) or "
            "'train' (the training examples without the validation slice)."
        )
    validation = bool(retrain.get("validation", False))
    if validation and train_on == "all":
        raise ConfigError(
            "task.retrain.validation=true with task.retrain.train_on=all is not valid: the validation "
            "slice would be part of the training data. Use train_on=train or validation=false."
        )
    return {"epochs": epochs, "batch_size": batch_size, "train_on": train_on, "validation": validation}


def retrain_and_test(trainer, settings: dict[str, Any], train: Examples, validation: Examples | None):
    """Fit a fresh model per ``settings`` and evaluate it on the test split; returns (model, history, test)."""
    model = trainer.new_model()
    history = trainer.fit(
        model,
        "retrain",
        train,
        validation if settings["validation"] else None,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
    )
    return model, history, trainer.evaluate(model, trainer.data.test)
