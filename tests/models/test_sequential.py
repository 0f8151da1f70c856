"""Sequential models from layer configs: the book's convnets with their parameter counts."""

from __future__ import annotations

import pytest
from composing import compose_train_config
from hydra.utils import instantiate

from dlbook.errors import ConfigError
from dlbook.models.sequential import build_sequential


@pytest.mark.parametrize(
    ("experiment", "input_shape", "params"),
    [
        ("mnist_convnet", (28, 28, 1), 93_322),
        ("cats_vs_dogs_scratch", (150, 150, 3), 3_453_121),
        ("cats_vs_dogs_augmented", (150, 150, 3), 3_453_121),
    ],
)
def test_experiment_models_have_the_books_parameter_counts(experiment, input_shape, params):
    cfg = compose_train_config(f"experiment={experiment}")
    model = instantiate(cfg.model)(input_shape=input_shape)
    assert model.count_params() == params


def test_vgg16_classifier_matches_the_book_and_freezes_to_the_classifier():
    cfg = compose_train_config("experiment=vgg16_augmented", "weights=null")
    model = instantiate(cfg.model)(input_shape=(150, 150, 3))
    assert model.count_params() == 16_812_353
    model.get_layer("conv_base").trainable = False
    assert (
        sum(
            int(w.shape.num_elements() if hasattr(w.shape, "num_elements") else __import__("numpy").prod(w.shape))
            for w in model.trainable_weights
        )
        == 2_097_665
    )


def test_each_call_builds_new_layers():
    layers = [{"_target_": "keras.layers.Dense", "units": 3}]
    first, second = build_sequential((4,), layers), build_sequential((4,), layers)
    assert first.layers[0] is not second.layers[0]


@pytest.mark.parametrize("layers", [[], [{"units": 3}]])
def test_invalid_layer_lists_name_the_key(layers):
    with pytest.raises(ConfigError, match="model.layers"):
        build_sequential((4,), layers)
