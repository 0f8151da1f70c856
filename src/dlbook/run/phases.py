"""Training in phases: which layers are trainable, the optimizer and the epochs of each phase.

Fine-tuning (book 5.3c) is then configuration: phase 1 trains a classifier on a frozen
convolutional base, phase 2 unfreezes the base's last block and continues at a lower learning
rate. The weights carry over from phase to phase (the same model object is fitted again).

A trainability rule is ``{layers: <pattern>, trainable: true|false}``; patterns match layer paths
with shell wildcards: ``conv_base`` is the top-level layer named so, ``conv_base/block5_*`` the
layers of that nested model whose names start with ``block5_``. Rules apply in order, so later
rules refine earlier ones (the book's "everything from block5_conv1 on"). Layers a phase's rules
do not name keep the trainability they had in the previous phase.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from dlbook.errors import ConfigError


def layer_paths(model, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every layer of ``model`` with its path (``outer/inner`` for layers of nested models)."""
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if hasattr(layer, "layers"):
            yield from layer_paths(layer, prefix=f"{path}/")


def apply_trainable(model, rules: Sequence[Mapping[str, Any]], phase: str) -> None:
    """Set ``layer.trainable`` by the ordered ``rules``; an unmatched pattern is an error."""
    paths = list(layer_paths(model))
    for index, rule in enumerate(rules):
        pattern, trainable = rule.get("layers"), rule.get("trainable")
        if not isinstance(pattern, str) or not isinstance(trainable, bool):
            raise ConfigError(
                f"trainer.phases ({phase}) trainable[{index}]={dict(rule)!r} is not valid: "
                "give {layers: <name or pattern>, trainable: true|false}."
            )
        matched = [layer for path, layer in paths if fnmatchcase(path, pattern)]
        if not matched:
            top_level = ", ".join(layer.name for layer in model.layers)
            raise ConfigError(
                f"trainer.phases ({phase}) trainable[{index}].layers={pattern!r} matches no layer of the model; "
                f"its top-level layers are: {top_level} (nested layers: <outer>/<inner>, wildcards allowed)."
            )
        for layer in matched:
            layer.trainable = trainable


def phase_settings(phase: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A validated phase: name, epochs, trainability rules, optimizer overrides."""
    name = phase.get("name") or f"phase_{index + 1}"
    epochs = phase.get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(
            f"trainer.phases[{index}].epochs={epochs!r} is not valid: "
            f"give a positive number of epochs for phase {name}."
        )
    unknown = set(phase) - {"name", "epochs", "trainable", "optimizer"}
    if unknown:
        raise ConfigError(
            f"trainer.phases[{index}] has unknown keys {sorted(unknown)}: a phase has name, epochs, "
            "trainable (a list of {layers, trainable} rules) and optimizer (overrides of the optimizer config)."
        )
    return {
        "name": name,
        "epochs": epochs,
        "trainable": list(phase.get("trainable") or []),
        "optimizer": dict(phase.get("optimizer") or {}),
    }
