"""A ``keras.Sequential`` from a list of layer configs: the book's convnets, read as its listings.

The layers are built anew at every call (the config has ``_recursive_: false``), so the fresh
models of k-fold or of a retrain step never share weights. An element may be a whole model used
as a layer, e.g. ``keras.applications.VGG16`` as a convolutional base, or a layer factory that
needs the dataset (its ``_target_`` takes a ``data`` argument, e.g. an Embedding initialised
from GloVe vectors over the dataset's vocabulary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dlbook.errors import ConfigError


def build_sequential(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]], name: str = "sequential", data=None
):
    """``keras.Sequential([keras.Input(input_shape), *layers])`` with each layer made from its ``_target_`` config."""
    import keras
    from hydra.utils import get_method, instantiate

    if not layers:
        raise ConfigError("model.layers is empty: list the layers, each with a `_target_` such as keras.layers.Dense.")
    built = [keras.Input(shape=tuple(input_shape))]
    for index, layer in enumerate(layers):
        if not isinstance(layer, Mapping) or "_target_" not in layer:
            raise ConfigError(
                f"model.layers[{index}]={layer!r} is not valid: each layer needs a `_target_` "
                "(e.g. keras.layers.Conv2D) and its arguments."
            )
        target = get_method(layer["_target_"]) if isinstance(layer["_target_"], str) else layer["_target_"]
        needs_data = callable(target) and "data" in _parameters(target)
        # The dataset is passed at call time (Hydra would try to turn a kwarg into config), and the
        # factory gets its nested settings as config (e.g. GloVe file settings), not instantiated.
        built.append(
            instantiate(layer, _partial_=True, _recursive_=False)(data=data) if needs_data else instantiate(layer)
        )
    return keras.Sequential(built, name=name)


def _parameters(target) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return set()
