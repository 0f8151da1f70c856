"""The Trainer: continuing from a finished run, mixed precision and XLA settings."""

from __future__ import annotations

import numpy as np
import pytest
from composing import compose_train_config
from omegaconf import OmegaConf

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError
from dlbook.run.trainer import Trainer


def test_init_from_continues_from_a_finished_runs_model(tmp_path):
    cfg = compose_train_config("experiment=mnist_convnet", f"hydra.run.dir={tmp_path}")
    rng = np.random.default_rng(0)
    examples = Examples(
        rng.random((8, 28, 28, 1), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
    )
    data = DataSplits(train=examples, test=examples, input_shape=(28, 28, 1), source="test")
    finished = Trainer(cfg, data).new_model()
    run_dir = tmp_path / "finished_run"
    run_dir.mkdir()
    finished.save(run_dir / "model.keras")

    OmegaConf.update(cfg, "trainer.init_from", str(run_dir))
    continued = Trainer(cfg, data).new_model()
    for before, after in zip(finished.get_weights(), continued.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert continued.optimizer is not None  # compiled with the run's optimizer settings, ready to fit


def test_init_from_a_directory_without_a_model_names_the_key(tmp_path):
    cfg = compose_train_config("experiment=mnist_convnet", f"trainer.init_from={tmp_path}", f"hydra.run.dir={tmp_path}")
    data = DataSplits(
        train=Examples(np.zeros((1, 28, 28, 1), np.float32), np.zeros((1, 10), np.float32)),
        test=Examples(np.zeros((1, 28, 28, 1), np.float32), np.zeros((1, 10), np.float32)),
        input_shape=(28, 28, 1),
        source="test",
    )
    with pytest.raises(ConfigError, match="trainer.init_from=.*has no model.keras"):
        Trainer(cfg, data).new_model()


def test_mixed_precision_and_xla_settings_reach_the_model(tmp_path):
    import keras

    cfg = compose_train_config(
        "experiment=mnist_convnet",
        "trainer.mixed_precision=mixed_bfloat16",
        "trainer.jit_compile=false",
        f"hydra.run.dir={tmp_path}",
    )
    examples = Examples(np.zeros((2, 28, 28, 1), np.float32), np.zeros((2, 10), np.float32))
    data = DataSplits(train=examples, test=examples, input_shape=(28, 28, 1), source="test")
    try:
        model = Trainer(cfg, data).new_model()
        assert model.layers[0].compute_dtype == "bfloat16" and model.layers[0].variable_dtype == "float32"
        assert model.jit_compile is False
        OmegaConf.update(cfg, "trainer.mixed_precision", None)
        assert Trainer(cfg, data).new_model().layers[0].compute_dtype == "float32"
        OmegaConf.update(cfg, "trainer.mixed_precision", "half")
        with pytest.raises(ConfigError, match="trainer.mixed_precision=half is not valid"):
            Trainer(cfg, data).new_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
