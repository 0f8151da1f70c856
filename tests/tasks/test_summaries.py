"""Summaries of Keras histories that go into metrics.json."""

from __future__ import annotations

import pytest

from dlbook.tasks.summaries import best_validation, final_values, mean_history

# The first epochs of the book's IMDB curve (3.5).
HISTORY = {
    "loss": [0.5, 0.3, 0.2, 0.15],
    "accuracy": [0.78, 0.90, 0.93, 0.95],
    "val_loss": [0.4016, 0.3085, 0.2803, 0.2735],
    "val_accuracy": [0.8628, 0.8870, 0.8908, 0.8893],
}


def test_best_validation_takes_min_loss_and_max_accuracy_with_epochs():
    assert best_validation(HISTORY) == {"loss": 0.2735, "loss_epoch": 4, "accuracy": 0.8908, "accuracy_epoch": 3}


def test_mae_is_minimised():
    assert best_validation({"val_mae": [3.0, 2.4, 2.6]}) == {"mae": 2.4, "mae_epoch": 2}


def test_final_values_split_training_and_validation():
    assert final_values(HISTORY, validation=False) == {"loss": 0.15, "accuracy": 0.95}
    assert final_values(HISTORY, validation=True) == {"loss": 0.2735, "accuracy": 0.8893}


def test_mean_history_averages_per_epoch():
    averaged = mean_history([{"val_mae": [2.0, 4.0]}, {"val_mae": [4.0, 2.0]}])
    assert averaged == {"val_mae": [pytest.approx(3.0), pytest.approx(3.0)]}


def test_target_units_scale_absolute_errors_only():
    from dlbook.tasks.summaries import add_target_units

    metrics = {
        "val": {"loss": 0.2897, "loss_epoch": 3},
        "test": {"loss": 0.3, "accuracy": 0.5},
        "kfold": {"val_loss": [0.2, 0.4], "val_loss_mean": 0.3},
    }
    add_target_units(metrics, 8.85, "celsius", {"loss"})
    assert metrics["val"]["loss_celsius"] == pytest.approx(2.5638, abs=1e-4)  # the book's "2.57 °C"
    assert "loss_epoch_celsius" not in metrics["val"] and "accuracy_celsius" not in metrics["test"]
    assert metrics["kfold"]["val_loss_celsius"] == pytest.approx([1.77, 3.54])
    assert metrics["kfold"]["val_loss_mean_celsius"] == pytest.approx(2.655)
