"""Evaluation without training: a model that needs no fitting (the book's common-sense baseline, 6.3).

The model is built and compiled as usual, then evaluated on the validation split (the dataset's
own, or none) and on the test split; it is saved like any trained model.
"""

from __future__ import annotations

from dlbook.tasks import TaskResult


def run(trainer) -> TaskResult:
    """Evaluate a freshly built model on the validation and test splits."""
    model = trainer.new_model()
    metrics = {}
    if trainer.data.validation is not None:
        metrics["val"] = trainer.evaluate(model, trainer.data.validation)
    metrics["test"] = trainer.evaluate(model, trainer.data.test)
    return TaskResult(model, metrics)
