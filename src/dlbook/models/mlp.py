"""Stacks of Dense layers: the models of the book's chapters 2 and 3."""

from __future__ import annotations

from collections.abc import Sequence

from dlbook.errors import ConfigError


def hidden_widths(units: int | Sequence[int], depth: int) -> list[int]:
    """The width of each hidden layer: ``depth`` layers of ``units``, or the list ``units`` itself."""
    widths = [units] * depth if isinstance(units, int) else list(units)
    if not widths or any(not isinstance(width, int) or width < 1 for width in widths):
        raise ConfigError(
            f"model.units={units!r} with model.depth={depth!r} is not valid: give a positive integer "
            "width with depth >= 1 (e.g. model.units=16 model.depth=2) or a list of positive widths "
            "(e.g. model.units=[64,4])."
        )
    return widths


def build_mlp(
    input_shape: Sequence[int],
    units: int | Sequence[int] = 16,
    depth: int = 2,
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    output_units: int = 1,
    output_activation: str | None = None,
    name: str = "mlp",
):
    """A ``keras.Sequential`` of Dense hidden layers (optionally each followed by Dropout) and an output layer.

    ``build_mlp((10000,), units=16, depth=2, output_units=1, output_activation="sigmoid")`` is the
    book's IMDB model (160,305 parameters). ``l2 > 0`` adds ``kernel_regularizer=l2(l2)`` to each hidden
    Dense layer (book 4.4: ``l2(0.001)``); the penalty is part of the training and validation loss.
    """
    import keras

    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"model.dropout={dropout!r} is not valid: give a rate in [0, 1), e.g. 0.5.")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
        raise ConfigError(f"model.l2={l2!r} is not valid: give a weight >= 0 (0: no penalty), e.g. 0.001.")
    layers = [keras.Input(shape=tuple(input_shape))]
    for width in hidden_widths(units, depth):
        regularizer = keras.regularizers.l2(l2) if l2 > 0 else None
        layers.append(keras.layers.Dense(width, activation=activation, kernel_regularizer=regularizer))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(output_units, activation=output_activation))
    return keras.Sequential(layers, name=name)
