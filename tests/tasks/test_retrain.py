"""Validation of the retrain step's settings."""

from __future__ import annotations

import pytest

from dlbook.errors import ConfigError
from dlbook.tasks.retrain import retrain_settings


def test_defaults_use_the_trainer_batch_size_and_all_data():
    assert retrain_settings({"epochs": 4}, 512) == {
        "epochs": 4,
        "batch_size": 512,
        "train_on": "all",
        "validation": False,
    }


def test_no_retrain_step():
    assert retrain_settings(None, 512) is None


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"epochs": 0}, "task.retrain.epochs"),
        ({"epochs": "4"}, "task.retrain.epochs"),
        ({"epochs": 4, "train_on": "everything"}, "task.retrain.train_on"),
        ({"epochs": 4, "train_on": "all", "validation": True}, "task.retrain.validation"),
    ],
)
def test_invalid_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key):
        retrain_settings(settings, 512)
