"""A finished run read back: the composed config it was trained with."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dlbook.config.moved_targets import update_targets
from dlbook.errors import DlbookError
from dlbook.run.directory import MODEL_FILE


def load_run_config(run_dir: Path) -> DictConfig:
    """The composed config a run was trained with (its .hydra/config.yaml).

    Its ``_target_`` strings are brought up to date (dlbook.config.moved_targets), so a run saved before
    a module moved still rebuilds its dataset and model.
    """
    config_file = run_dir / ".hydra" / "config.yaml"
    if not (run_dir / MODEL_FILE).is_file() or not config_file.is_file():
        raise DlbookError(
            f"run={run_dir} is not a completed dlbook run: it needs {MODEL_FILE} and .hydra/config.yaml. "
            "Give the directory a `dlbook train` run printed at its end, e.g. run=outputs/imdb/<timestamp>."
        )
    return update_targets(OmegaConf.load(config_file))
