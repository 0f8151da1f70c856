"""Models that need no training: the book's common-sense baselines."""

from __future__ import annotations

from collections.abc import Sequence


def build_last_value(input_shape: Sequence[int], feature_index: int, name: str = "last_value_baseline"):
    """Predict one feature's value at the last timestep of the window (book 6.3: tomorrow = the last temperature)."""
    import keras

    from dlbook.models.layers import last_timestep_feature

    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), last_timestep_feature(feature_index, name="last_timestep")], name=name
    )
