"""Wrong values typed on the command line (`key=value`) end in one paragraph naming the key, never a traceback.

Two layers, because no list of checks can know every key of every experiment (layers, datasets, tasks are
open-ended):

- Before Hydra runs (no TensorFlow imported), :func:`override_problem` compares each ``key=value`` with the
  experiment's own value of that key (the config composed without the command line's key overrides): a
  number where the experiment has a number, a mapping where it has a mapping, a class path for
  ``_target_``, an option name for a config group (``callbacks=true``). A value of the wrong kind is
  refused with the key, the value, what kind is expected and the experiment's own value.
- When a run fails anyway with an error that is no dlbook error (Keras refusing ``units=-1``, an unknown
  loss name, a class path that does not exist), :func:`blame_overrides` turns it into a ConfigError that
  names the command line's overrides which may have caused it, the error, and the experiment's own values.
  The full traceback still goes to the run's train.log for a bug report. With no such override on the
  command line the error is left alone: then it is a bug of dlbook, and its traceback is wanted.
"""

from __future__ import annotations

import logging
from typing import Any

from dlbook.errors import ConfigError

log = logging.getLogger("dlbook")

_ABSENT = object()
# Keys whose value has its own precise check (dlbook.config.checks) or that pick what runs rather than
# configure it; they are never blamed for a failure.
_NOT_BLAMED = ("seed", "deterministic", "resume", "trial", "name", "objective")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping ({key: value, ...})"
    return type(value).__name__


def _class_path(value: Any) -> bool:
    parts = value.split(".") if isinstance(value, str) else []
    return len(parts) >= 2 and all(part.isidentifier() for part in parts)


def value_problem(key: str, value: Any, own: Any) -> str | None:
    """Why ``value`` cannot stand where the experiment has ``own`` for ``key`` (None when it can)."""
    if isinstance(value, str) and "${" in value:
        return None  # an interpolation typed on the command line: its value is known only once resolved
    if key.rpartition(".")[2] == "_target_":
        if not _class_path(value):
            return f"expected the dotted path of a class or function, e.g. {key}={own}"
        return None
    if own is None or value is None:
        return None  # null is Keras' "none" for many arguments; a null that does not work is left to the run
    if isinstance(own, bool):
        fits = isinstance(value, bool)
    elif isinstance(own, int):
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(own, float):
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(own, str):
        fits = isinstance(value, str)
    elif isinstance(own, (list, tuple)):
        fits = isinstance(value, (list, tuple))
    elif isinstance(own, dict):
        fits = isinstance(value, dict)
    else:
        return None
    if fits:
        return None
    if isinstance(own, dict):
        keys = ", ".join(str(name) for name in own)
        return (
            f"{key} is a mapping of settings ({keys}); change one of them with {key}.<setting>=<value>, "
            f"or remove it with ~{key}"
        )
    return f"expected {_kind(own)} like the experiment's own value, e.g. {key}={_shown(own)}"


def override_problem(compose, cfg, parsed: list, groups: set[str]) -> str | None:
    """The message for the first ``key=value`` of the command line whose value is of the wrong kind.

    ``compose(overrides)`` composes the primary config, ``cfg`` is the config composed with the whole
    command line, ``parsed`` its parsed overrides and ``groups`` the config groups' names.
    """
    from omegaconf import OmegaConf

    from dlbook.config.checks import CHECKS

    plain = [
        item
        for item in parsed
        if item.key_or_group not in groups
        and not item.key_or_group.startswith("hydra.")
        and not item.is_delete()
        and item.key_or_group not in CHECKS  # checked precisely once the run starts
        and item.key_or_group not in _NOT_BLAMED
    ]
    if not plain:
        return None
    kept = [item.input_line for item in parsed if item not in plain]
    try:
        composed = compose(kept)
        reference = OmegaConf.to_container(composed, resolve=False)
    except Exception:  # noqa: BLE001 - without the experiment's own config there is nothing to compare with
        return None
    for item in plain:
        own = _select(reference, item.key_or_group)
        if isinstance(own, str) and "${" in own:
            own = _resolved(composed, item.key_or_group)  # e.g. filters: ${filters}, the experiment's number
        if own is _ABSENT:
            continue  # a new key (+key=...), or a value known only in the run: nothing to compare with
        try:
            values = list(item.sweep_iterator()) if item.is_sweep_override() else [item.value()]
        except Exception:  # noqa: BLE001 - an interval (Optuna's search space) has no values to list
            continue
        for value in values:
            problem = value_problem(item.key_or_group, value, own)
            if problem:
                return f"{item.key_or_group}={_shown(value)} is not valid: {problem}."
    return None


def group_problem(config_loader, parsed: list) -> str | None:
    """The message for a config group given something other than an option name (``callbacks=true``)."""
    for item in parsed:
        if item.is_delete() or item.is_sweep_override():
            continue
        options = config_loader.get_group_options(item.key_or_group)
        value = item.value()
        if not options:
            continue
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(name, str) for name in value)):
            continue
        return (
            f"{item.key_or_group}={_shown(value)} is not valid: {item.key_or_group} is a config group; its "
            f"value is the name of one of its options: {', '.join(options)} (e.g. "
            f"{item.key_or_group}={options[0]}). To change one key inside it, write {item.key_or_group}.<key>=<value>."
        )
    return None


def blame_overrides(error: BaseException, run_dir: Any) -> ConfigError | None:
    """A ConfigError naming the command line's overrides behind a failed run's ``error``, or None.

    Only the job's own ``key=value`` overrides count (config groups, Hydra's settings, and keys with a
    check of their own are not candidates); with none of them, ``error`` is left as it is.
    """
    if not _from_a_value(error):
        return None
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return None
        hydra_cfg = HydraConfig.get()
        overrides = list(hydra_cfg.overrides.task)
        groups = set(hydra_cfg.runtime.choices.keys())
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - without the command line there is nobody to blame
        return None
    from dlbook.config.checks import CHECKS

    # Keys checked in full before the run (numbers, switches): a value that passed is not the culprit.
    # Loss and metric names are only checked for their shape, so Keras may still refuse them.
    checked = set(CHECKS) - {"trainer.loss", "trainer.metrics"}
    suspects = [
        item.input_line
        for item in parsed
        if item.key_or_group not in groups
        and not item.key_or_group.startswith("hydra.")
        and item.key_or_group not in _NOT_BLAMED
        and item.key_or_group not in checked
        and not item.key_or_group.startswith(("paths.", "book.", "reference."))
    ]
    if not suspects:
        return None
    _log_to_file(error)
    who = suspects[0] if len(suspects) == 1 else "one of " + ", ".join(suspects)
    own = _own_values(hydra_cfg, [item for item in parsed if item.input_line in suspects], groups)
    reason = " ".join(str(error).split()) or "no message"
    cause = error.__cause__
    if type(error).__name__ == "InstantiationException" and cause is not None:
        reason = " ".join(str(cause).split()) or reason  # Hydra's wrapper: the original error says more
        error = cause
    if len(reason) > 400:
        reason = reason[:400] + " ..."
    return ConfigError(
        f"{who} is not valid: the run failed with {type(error).__name__}: {reason.rstrip('.')}. {own}"
        f"`dlbook train --cfg job` with the same experiment shows every key with the experiment's own value; "
        f"the full error is in {run_dir}/train.log."
    )


def _own_values(hydra_cfg, suspects: list, groups: set[str]) -> str:
    """A sentence with the experiment's own values of the suspects (valid examples), or "" if unknown."""
    from omegaconf import OmegaConf

    try:
        from hydra import compose

        kept = [
            f"{group}={choice}"
            for group, choice in hydra_cfg.runtime.choices.items()
            if "/" not in group and group != "hydra" and choice is not None and _is_group_override(group, hydra_cfg)
        ]
        reference = OmegaConf.to_container(compose(hydra_cfg.job.config_name, kept), resolve=False)
    except Exception:  # noqa: BLE001 - the hint is optional
        return ""
    shown = []
    for item in suspects:
        own = _select(reference, item.key_or_group)
        shown.append(f"{item.key_or_group}={'(not set)' if own is _ABSENT else _shown(own)}")
    return f"The experiment's own value{'s are' if len(shown) > 1 else ' is'} {', '.join(shown)}. "


def _is_group_override(group: str, hydra_cfg) -> bool:
    """Whether the command line chose ``group`` (the others come from the experiment's defaults)."""
    return any(line.lstrip("+").split("=", 1)[0] == group for line in hydra_cfg.overrides.task)


# Errors that a wrong value makes Python, Keras or TensorFlow raise. Others (a RuntimeError of a library,
# an OSError, a scheduler's exception raised from its signal handler) say nothing about the command line.
_VALUE_ERRORS = (ValueError, TypeError, LookupError, AttributeError, ImportError, ArithmeticError)
_VALUE_ERROR_NAMES = {"InvalidArgumentError", "UnimplementedError"}  # TensorFlow's, without importing it


def _from_a_value(error: BaseException) -> bool:
    """Whether ``error`` (or, for Hydra's InstantiationException, its cause) is what a wrong value raises."""
    if type(error).__name__ == "InstantiationException":
        if error.__cause__ is None:
            return True  # Hydra's own: the target cannot be found or is not callable
        error = error.__cause__
    return isinstance(error, _VALUE_ERRORS) or type(error).__name__ in _VALUE_ERROR_NAMES


def _log_to_file(error: BaseException) -> None:
    """The traceback into the run's log file only (the console gets the one paragraph)."""
    record = log.makeRecord(
        log.name, logging.ERROR, __file__, 0, "the failure in full:", (), (type(error), error, None)
    )
    record.exc_info = (type(error), error, error.__traceback__)
    for handler in logging.getLogger().handlers + log.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _resolved(cfg, key: str) -> Any:
    """The value of ``key`` with its interpolations resolved, or _ABSENT where they need the running job."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    try:
        value = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except Exception:  # noqa: BLE001 - ${hydra:...} and the like resolve only inside the run
        return _ABSENT
    if isinstance(value, (DictConfig, ListConfig)):
        return _ABSENT
    return value


def _select(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return _ABSENT
        tree = tree[part]
    return tree


def _shown(value: Any) -> str:
    """A value as a user types it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{name}: {_shown(item)}" for name, item in value.items()) + "}"
    return str(value)
