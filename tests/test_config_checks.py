"""Config values are checked before any work, with the key, the value and what is valid."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from dlbook.config_checks import check_config
from dlbook.errors import ConfigError

VALID = {
    "seed": 0,
    "deterministic": False,
    "trainer": {
        "epochs": 20,
        "batch_size": 512,
        "eval_batch_size": 512,
        "steps_per_execution": 1,
        "max_epochs": None,
        "max_steps": None,
        "progress": "epochs",
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "optimizer": {"learning_rate": 1e-3},
}


def test_a_valid_config_passes():
    check_config(OmegaConf.create(VALID))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("trainer.epochs", "ten", "trainer.epochs='ten' is not valid: expected a positive integer"),
        ("trainer.epochs", 2.5, "trainer.epochs=2.5 is not valid"),
        ("trainer.batch_size", 0, "trainer.batch_size=0 is not valid"),
        ("seed", "abc", "seed='abc' is not valid: expected an integer"),
        ("optimizer.learning_rate", -1, "optimizer.learning_rate=-1 is not valid: expected a positive number"),
        ("trainer.progress", "bars", "trainer.progress='bars' is not valid: expected one of none, epochs, batches"),
        ("trainer.metrics", "accuracy", "trainer.metrics='accuracy' is not valid"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_valid(key, value, expected):
    config = OmegaConf.create(VALID)
    OmegaConf.update(config, key, value)
    with pytest.raises(ConfigError) as raised:
        check_config(config)
    assert expected in str(raised.value)
    assert "e.g. `dlbook train" in str(raised.value)
