"""Summaries of Keras history dicts: best validation epoch, final values, means over folds."""

from __future__ import annotations

from collections.abc import Sequence

# Metrics where smaller is better; every other metric (accuracy, auc, ...) is maximised.
_LOWER_IS_BETTER = ("loss", "mae", "mse", "error", "crossentropy", "hinge", "mape", "msle")


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in _LOWER_IS_BETTER)


def best_validation(history: dict[str, Sequence[float]]) -> dict[str, float]:
    """Each validation metric's best value over the epochs and the (1-based) epoch it was reached.

    ``{"val_loss": [...], "val_accuracy": [...]}`` -> ``{"loss": .., "loss_epoch": .., "accuracy": .., ...}``
    """
    import numpy as np  # here, not at the top: `dlbook runs` and `summarize` use lower_is_better alone

    best: dict[str, float] = {}
    for key, values in history.items():
        if not key.startswith("val_") or not len(values):
            continue
        name = key[len("val_") :]
        values = np.asarray(values, dtype=float)
        index = int(np.argmin(values) if lower_is_better(name) else np.argmax(values))
        best[name] = float(values[index])
        best[f"{name}_epoch"] = index + 1
    return best


def final_values(history: dict[str, Sequence[float]], validation: bool) -> dict[str, float]:
    """The last epoch's training (``validation=False``) or validation metrics, without the val_ prefix."""
    final: dict[str, float] = {}
    for key, values in history.items():
        if key.startswith("val_") != validation or not len(values):
            continue
        final[key[len("val_") :] if validation else key] = float(values[-1])
    return final


def mean_history(histories: Sequence[dict[str, Sequence[float]]]) -> dict[str, list[float]]:
    """The per-epoch mean over several fits' histories (the book's averaged k-fold curve)."""
    import numpy as np

    keys = set.intersection(*(set(history) for history in histories))
    return {
        key: np.mean([np.asarray(history[key], dtype=float) for history in histories], axis=0).tolist()
        for key in sorted(keys)
    }


def add_target_units(metrics: dict, scale: float, unit: str, names: set[str]) -> None:
    """Add ``<name>_<unit>`` = value x ``scale`` beside each absolute-error metric of normalised targets.

    Book 6.3 reports the Jena MAE on z-scored temperatures (0.29) and in degrees (0.29 x std = 2.57 °C).
    """
    for split in ("val", "test", "train", "kfold"):
        values = metrics.get(split)
        if not isinstance(values, dict):
            continue
        for name in [key for key in values if key in names or key.removeprefix("val_").removesuffix("_mean") in names]:
            value = values[name]
            unscaled = [item * scale for item in value] if isinstance(value, list) else value * scale
            values[f"{name}_{unit}"] = unscaled
