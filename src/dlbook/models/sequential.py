"""A ``keras.Sequential`` from a list of layer configs: the book's convnets, read as its listings.

The layers are built anew at every call (the config has ``_recursive_: false``), so the fresh
models of k-fold or of a retrain step never share weights. An element may be a whole model used
as a layer, e.g. ``keras.applications.VGG16`` as a convolutional base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dlbook.errors import ConfigError


def build_sequential(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]], name: str = "sequential"):
    """``keras.Sequential([keras.Input(input_shape), *layers])`` with each layer made from its ``_target_`` config."""
    import keras
    from hydra.utils import instantiate

    if not layers:
        raise ConfigError("model.layers is empty: list the layers, each with a `_target_` such as keras.layers.Dense.")
    built = [keras.Input(shape=tuple(input_shape))]
    for index, layer in enumerate(layers):
        if not isinstance(layer, Mapping) or "_target_" not in layer:
            raise ConfigError(
                f"model.layers[{index}]={layer!r} is not valid: each layer needs a `_target_` "
                "(e.g. keras.layers.Conv2D) and its arguments."
            )
        built.append(instantiate(layer))
    return keras.Sequential(built, name=name)
