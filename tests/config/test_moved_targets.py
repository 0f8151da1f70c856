"""Runs saved before src/dlbook/ was regrouped name old modules in their config; they must still load."""

from __future__ import annotations

import importlib

import pytest
import yaml
from hydra.utils import get_method
from omegaconf import OmegaConf

from dlbook.config.moved_targets import MOVED_MODULES, update_override, update_targets, updated_target
from dlbook.run.resume import resume_arguments
from dlbook.run.saved import load_run_config


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_each_old_module_is_gone_and_its_new_home_imports(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
    importlib.import_module(MOVED_MODULES[old])


def test_old_targets_become_the_moved_functions():
    assert updated_target("dlbook.strategy.default") == "dlbook.run.strategy.default"
    # The longest old module wins: runs_table is not runs + "_table".
    assert updated_target("dlbook.runs_table.find_run_dirs") == "dlbook.results.runs_table.find_run_dirs"
    assert updated_target("dlbook.runs.display_path") == "dlbook.run.directory.display_path"
    # Modules that did not move, and other libraries, are left alone.
    assert updated_target("dlbook.datasets.imdb.load") == "dlbook.datasets.imdb.load"
    assert updated_target("keras.layers.Dense") == "keras.layers.Dense"
    for target in ("dlbook.generation.text_sampler", "dlbook.datasets.augmentation.book_augmentation"):
        assert callable(get_method(updated_target(target)))


def write_old_run(run_dir, config):
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (run_dir / "model.keras").write_bytes(b"not read here")


def test_a_saved_config_with_old_targets_loads_with_the_new_ones(tmp_path):
    old = {
        "strategy": {"_target_": "dlbook.strategy.default"},
        "dataset": {
            "_target_": "dlbook.datasets.cats_vs_dogs.load",
            "augmentation": [{"_target_": "dlbook.datasets.augmentation.book_augmentation", "rotation_range": 40}],
        },
        "callbacks": {"lr": {"_target_": "dlbook.monitoring.learning_rate_logger"}},
        "name": "dlbook.strategy.default",  # not a _target_: a value like any other
    }
    write_old_run(tmp_path / "run", old)
    cfg = load_run_config(tmp_path / "run")
    assert cfg.strategy._target_ == "dlbook.run.strategy.default"
    assert cfg.dataset._target_ == "dlbook.datasets.cats_vs_dogs.load"
    assert cfg.dataset.augmentation[0]._target_ == "dlbook.datasets.io.augmentation.book_augmentation"
    assert cfg.dataset.augmentation[0].rotation_range == 40
    assert cfg.callbacks.lr._target_ == "dlbook.run.monitoring.learning_rate_logger"
    assert cfg.name == "dlbook.strategy.default"


def test_interpolations_are_kept_as_written():
    cfg = OmegaConf.create({"glove": {"_target_": "dlbook.strategy.default"}, "layer": {"glove": "${glove}"}})
    update_targets(cfg)
    assert OmegaConf.is_interpolation(cfg.layer, "glove")
    assert cfg.layer.glove._target_ == "dlbook.run.strategy.default"


def test_resume_rewrites_old_module_names_in_the_saved_overrides(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    saved = ["experiment=imdb", "+callbacks.lr._target_=dlbook.monitoring.learning_rate_logger"]
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(saved))
    (run / "status.json").write_text('{"status": "interrupted"}')
    arguments = resume_arguments([f"resume={run}"])
    assert "+callbacks.lr._target_=dlbook.run.monitoring.learning_rate_logger" in arguments
    assert "experiment=imdb" in arguments
    assert update_override("trainer.epochs=3") == "trainer.epochs=3"
