"""The Dense stacks of chapters 2-3 have the book's parameter counts."""

from __future__ import annotations

import pytest

from dlbook.errors import ConfigError
from dlbook.models.mlp import build_mlp, hidden_widths


@pytest.mark.parametrize(
    ("arguments", "params"),
    [
        (
            {"input_shape": (784,), "units": 512, "depth": 1, "output_units": 10, "output_activation": "softmax"},
            407_050,
        ),
        (
            {"input_shape": (10000,), "units": 16, "depth": 2, "output_units": 1, "output_activation": "sigmoid"},
            160_305,
        ),
        (
            {"input_shape": (10000,), "units": 64, "depth": 2, "output_units": 46, "output_activation": "softmax"},
            647_214,
        ),
        ({"input_shape": (10000,), "units": [64, 4], "output_units": 46, "output_activation": "softmax"}, 640_554),
        ({"input_shape": (13,), "units": 64, "depth": 2, "output_units": 1}, 5_121),
    ],
)
def test_parameter_counts_match_the_book(arguments, params):
    assert build_mlp(**arguments).count_params() == params


def test_dropout_adds_dropout_layers():
    model = build_mlp((20,), units=8, depth=2, dropout=0.5)
    assert [layer.__class__.__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]


@pytest.mark.parametrize(("units", "depth"), [(0, 2), (16, 0), ([64, -1], 1), ("16", 2)])
def test_invalid_widths_name_the_key(units, depth):
    with pytest.raises(ConfigError, match="model.units"):
        hidden_widths(units, depth)


def test_l2_regularizes_the_hidden_kernels_only():
    model = build_mlp((20,), units=16, depth=2, l2=0.001)
    hidden, output = model.layers[:-1], model.layers[-1]
    assert [layer.kernel_regularizer.get_config()["l2"] for layer in hidden] == pytest.approx([0.001, 0.001])
    assert output.kernel_regularizer is None
    assert len(model.losses) == 2  # the penalties Keras adds to the loss
    assert build_mlp((20,), units=16, depth=2).layers[0].kernel_regularizer is None


@pytest.mark.parametrize("l2", [-0.1, "0.001", True])
def test_invalid_l2_names_the_key(l2):
    with pytest.raises(ConfigError, match="model.l2"):
        build_mlp((20,), l2=l2)
