"""Compose dlbook's real train config in-process (Hydra's compose API), as `dlbook train` would."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from dlbook.config.resources import conf_dir


def compose_train_config(*overrides: str):
    """The composed `train` config for these overrides, with hydra's runtime keys available."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
