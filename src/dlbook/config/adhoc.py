"""Ad-hoc runs on your own data or model: the neutral base ``experiment=custom``, chosen predictably.

``dlbook train`` alone runs the book's default (``experiment=boston_housing``). But a command line that
picks a dataset or a model (``dataset=named_arrays``, ``model=sequential``) and no experiment means the
user's own run: it must not inherit Boston's k-fold protocol, epochs, name and book comparison. For it,
dlbook adds ``experiment=custom`` (conf/experiment/custom.yaml: no reference, a plain hold-out) and
``name=<dataset>-<model>`` (the options chosen, e.g. ``named_arrays-sequential``) before Hydra composes.
The added overrides are ordinary ones: they show in the run's overrides and its rerun command.
Nothing is added when the command names an experiment, a name, or resumes a run (it keeps its own).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CUSTOM_EXPERIMENT = "custom"
# Choosing one of these groups without an experiment makes a run ad hoc.
OWN_GROUPS = ("dataset", "model")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _key(argument: str) -> str | None:
    """The key of a ``key=value`` override (``+``/``~`` stripped); None for flags and flag values."""
    if argument.startswith("-") or "=" not in argument:
        return None
    return argument.split("=", 1)[0].lstrip("+~")


def with_custom_base(arguments: Sequence[str]) -> list[str]:
    """``arguments`` of ``dlbook train``, with ``experiment=custom`` and a name added when the run is ad hoc."""
    arguments = list(arguments)
    keys = {_key(argument): argument.split("=", 1)[1] for argument in arguments if _key(argument)}
    if "experiment" in keys or "resume" in keys:
        return arguments
    chosen = [keys[group] for group in OWN_GROUPS if group in keys]
    if not chosen:
        return arguments
    added = [f"experiment={CUSTOM_EXPERIMENT}"]
    name = "-".join(chosen)
    if "name" not in keys and all(_PLAIN_NAME.fullmatch(option) for option in chosen):
        added.append(f"name={name}")  # a sweep over options (model=a,b) keeps the name "custom"
    return [*added, *arguments]
