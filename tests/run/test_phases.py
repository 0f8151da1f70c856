"""Training in phases: trainability rules and optimizer changes, weights carried over (book 5.3c)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from composing import compose_train_config
from omegaconf import OmegaConf

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError
from dlbook.run.phases import apply_trainable, layer_paths, phase_settings
from dlbook.run.trainer import Trainer


def small_model():
    base = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="block1_conv1"),
            keras.layers.Conv2D(4, 3, name="block5_conv1"),
            keras.layers.Conv2D(4, 1, name="block5_conv2"),
        ],
        name="conv_base",
    )
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            base,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1, activation="sigmoid", name="head"),
        ],
        name="classifier",
    )


def trainable_names(model):
    return sorted(path for path, layer in layer_paths(model) if layer.trainable and layer.weights)


def test_paths_cover_nested_layers():
    paths = [path for path, _ in layer_paths(small_model())]
    assert "conv_base" in paths and "conv_base/block5_conv1" in paths and "head" in paths


def test_books_fine_tuning_rules_unfreeze_block5_only():
    model = small_model()
    apply_trainable(
        model,
        [
            {"layers": "conv_base", "trainable": True},
            {"layers": "conv_base/*", "trainable": False},
            {"layers": "conv_base/block5_*", "trainable": True},
        ],
        "finetune",
    )
    assert trainable_names(model) == ["conv_base", "conv_base/block5_conv1", "conv_base/block5_conv2", "head"]
    assert not model.get_layer("conv_base").get_layer("block1_conv1").trainable


def test_frozen_base_leaves_only_the_classifier_trainable():
    model = small_model()
    apply_trainable(model, [{"layers": "conv_base", "trainable": False}], "frozen")
    assert len(model.trainable_weights) == 2  # the Dense kernel and bias


def test_unknown_layer_pattern_lists_the_layers():
    with pytest.raises(ConfigError, match="matches no layer.*conv_base, flatten, head"):
        apply_trainable(small_model(), [{"layers": "base", "trainable": False}], "frozen")


@pytest.mark.parametrize(
    ("phase", "key"),
    [({"epochs": 0}, "epochs=0"), ({"epochs": 2, "lr": 1e-5}, "unknown keys \\['lr'\\]")],
)
def test_invalid_phases_are_refused(phase, key):
    with pytest.raises(ConfigError, match=key):
        phase_settings(phase, 0)


def test_phases_train_in_turn_with_their_own_optimizer_and_carry_weights(tmp_path):
    cfg = compose_train_config(
        "experiment=mnist_convnet",
        "callbacks=none",
        "trainer.progress=none",
        "trainer.batch_size=8",
        f"hydra.run.dir={tmp_path}",
    )
    OmegaConf.update(
        cfg,
        "trainer.phases",
        [
            {"name": "frozen", "epochs": 1, "trainable": [{"layers": "conv2d*", "trainable": False}]},
            {
                "name": "all",
                "epochs": 2,
                "trainable": [{"layers": "*", "trainable": True}],
                "optimizer": {"learning_rate": 1e-5},
            },
        ],
    )
    OmegaConf.update(
        cfg,
        "model.layers",
        [
            {"_target_": "keras.layers.Conv2D", "filters": 2, "kernel_size": 3},
            {"_target_": "keras.layers.Flatten"},
            {"_target_": "keras.layers.Dense", "units": 2, "activation": "softmax"},
        ],
    )
    rng = np.random.default_rng(0)
    examples = Examples(
        rng.random((16, 6, 6, 1), dtype=np.float32), np.eye(2, dtype=np.float32)[rng.integers(0, 2, 16)]
    )
    trainer = Trainer(cfg, DataSplits(train=examples, test=examples, input_shape=(6, 6, 1), source="test"))
    model = trainer.new_model()
    conv_before = model.layers[0].get_weights()[0].copy()
    history = trainer.fit_phases(model, examples, examples, batch_size=8)
    assert len(history["loss"]) == 3 and len(history["val_loss"]) == 3
    assert [row["phase"] for row in trainer.history_rows] == ["frozen", "all", "all"]
    # Phase 2 made everything trainable again and ran at its own learning rate; phase 1 froze the conv.
    assert model.layers[0].trainable
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-5)
    assert not np.array_equal(model.layers[0].get_weights()[0], conv_before)
