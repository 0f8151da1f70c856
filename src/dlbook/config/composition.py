"""Turn Hydra's composition errors (an unknown key or option, an override it cannot apply) into one paragraph.

Hydra composes the config before dlbook's task function runs; a mistyped key (``trainer.epoch=3``)
or option (``model=mlpp``) ends there, printed as several lines with exit status 1. `dlbook`
therefore composes the config once itself before handing the arguments to Hydra (no TensorFlow
is imported for it): a mistake gets dlbook's standard message, one paragraph naming the
override, the closest valid keys or options, and exit status 2. Arguments that compose are
handed to Hydra unchanged; any other failure is left to Hydra to report, as before.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
from pathlib import Path
from typing import Any

from dlbook.config.overrides import group_problem, override_problem

# Hydra's message when an override names a key the config does not have.
_UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'")


def composition_problem(command: str, arguments: list[str]) -> str | None:
    """The message for ``dlbook <command> <arguments>`` when its config cannot be composed, else None.

    Only runs, multiruns and ``--cfg`` are checked (``--help``, ``--info`` and the like are left to
    Hydra), and nothing is checked with ``HYDRA_FULL_ERROR=1`` (Hydra then shows the full trace).
    """
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        return None
    args = _hydra_arguments(arguments)
    if args is None or args.help or args.hydra_help or args.info or args.shell_completion:
        return None
    if args.config_path or args.config_dir or getattr(args, "experimental_rerun", None):
        return None
    if any(override.split("=", 1)[0].lstrip("+~") == "hydra.mode" for override in args.overrides):
        return None  # Hydra picks the mode from the config then; leave it all to Hydra
    try:
        return _check(command, args.config_name or command, list(args.overrides), bool(args.multirun))
    except Exception:  # a failure of this check itself: Hydra composes (and reports) as it always did
        return None


def _hydra_arguments(arguments: list[str]):
    """Hydra's own parse of the command line, or None where Hydra would refuse it (it then says why)."""
    from hydra._internal.utils import get_args_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return get_args_parser().parse_args(arguments)
    except SystemExit:
        return None


def _check(command: str, config_name: str, overrides: list[str], multirun: bool) -> str | None:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import CompactHydraException
    from hydra.types import RunMode

    from dlbook.config.resources import conf_dir

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name=command):
        hydra = GlobalHydra.instance().hydra

        def compose(chosen: list[str]):
            return hydra.compose_config(config_name, chosen, run_mode=mode, with_log_configuration=False)

        try:
            cfg = compose(overrides)
        except CompactHydraException as error:
            return _explain(error, command, overrides, compose)
        except (ValueError, TypeError):  # a config group given a number, a mapping, true...
            return group_problem(hydra.config_loader, _parse(overrides))
        if multirun:
            return _unknown_sweep_key(cfg, command, overrides) or _wrong_kind(cfg, compose, overrides)
        return _wrong_kind(cfg, compose, overrides) or _earlier_run_in_run_dir(cfg, overrides)


def config_groups(cfg) -> set[str]:
    """The config groups' names: those Hydra chose an option of, and every group folder of dlbook's conf/.

    (Hydra's ``runtime.choices`` leaves out a group given a list of options, e.g. ``logger=[tensorboard,mlflow]``.)
    """
    from omegaconf import OmegaConf

    from dlbook.config.resources import conf_dir

    groups = set(OmegaConf.to_container(cfg.hydra.runtime.choices, resolve=False))
    return groups | {"experiment"} | {path.name for path in conf_dir().iterdir() if path.is_dir()}


def _wrong_kind(cfg, compose, overrides: list[str]) -> str | None:
    """A ``key=value`` whose value is not of the kind of the experiment's own value (dlbook.config.overrides)."""

    groups = config_groups(cfg)
    parsed = _parse(overrides)
    if any(item.is_sweep_override() and item.key_or_group in groups for item in parsed):
        return None  # jobs of different experiments: a key's own value differs from job to job
    return override_problem(compose, cfg, parsed, groups)


def _explain(error: Exception, command: str, overrides: list[str], compose) -> str:
    """One paragraph for a composition error: unknown key or option with the closest valid ones."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    parsed = _parse(overrides)
    if isinstance(error, MissingConfigException) and error.options and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        line = next((item.input_line for item in parsed if item.key_or_group == group), None)
        if line is not None:
            return _unknown_option(line, group, option, list(error.options))
    unknown = _UNKNOWN_KEY.match(str(error))
    if unknown and isinstance(error.__cause__, (ConfigAttributeError, ConfigKeyError)):
        key = unknown.group(1)
        line = next((item.input_line for item in parsed if item.key_or_group == key), f"{key}=...")
        reference = _reference_config(compose, overrides, parsed, key)
        return _unknown_key(line, key, command, reference)
    cause = error.__cause__
    detail = f" ({str(cause).splitlines()[0]})" if cause is not None and str(cause) else ""
    return f"the command line cannot be composed into a config: {_one_line(str(error))}{detail}."


def _parse(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except Exception:
        return []


def _unknown_option(line: str, group: str, option: str, options: list[str]) -> str:
    guesses = difflib.get_close_matches(option, options, n=3, cutoff=0.5)
    guess = f" Did you mean {_either(guesses)}?" if guesses else ""
    where = " (`dlbook --help` lists them with their book sections)" if group == "experiment" else ""
    return (
        f"{line} is not valid: there is no config {group}/{option}.{guess} "
        f"The options of {group} are: {', '.join(options)}{where}."
    )


def _unknown_key(line: str, key: str, command: str, reference: Any) -> str:
    hydra_key = key.startswith("hydra.")
    ancestors = {key.rsplit(".", depth)[0] for depth in range(1, key.count(".") + 1)}
    keys = [name for name in _dotted_keys(reference, include_hydra=hydra_key) if name not in ancestors]
    parent, _, leaf = key.rpartition(".")
    siblings = {name.rpartition(".")[2]: name for name in keys if name.rpartition(".")[0] == parent}
    # Initials of a key under the right parent (optimizer.lr), a close key (modle.units), a close
    # last part under the right parent (trainer.epoch).
    guesses = [name for short, name in siblings.items() if "_" in short and _initials(short) == leaf]
    guesses += difflib.get_close_matches(key, keys, n=3, cutoff=0.8)
    guesses += [siblings[name] for name in difflib.get_close_matches(leaf, list(siblings), n=3, cutoff=0.6)]
    guesses = list(dict.fromkeys(guesses))[:3]
    if guesses:
        hint = f" Did you mean {_either(guesses)}?"
    elif siblings and len(siblings) <= 30:
        hint = f" The keys of {parent or 'the config'} are: {', '.join(sorted(siblings))}."
    else:
        hint = ""
    add = "" if hydra_key else f" To add a new key on purpose, write +{line.lstrip('+')};"
    part = "hydra" if hydra_key else "job"
    return (
        f"{line} is not valid: the config has no key {key}.{hint}{add} "
        f"`dlbook {command} --cfg {part}` prints every key with its value."
    )


def _initials(name: str) -> str:
    return "".join(word[:1] for word in name.split("_"))


def _reference_config(compose, overrides: list[str], parsed: list, key: str) -> Any:
    """The config without the failing override (or with none), as plain containers, for the key names."""
    from omegaconf import OmegaConf

    kept = [item.input_line for item in parsed if item.key_or_group != key]
    for chosen in (kept, []) if parsed else ([],):
        try:
            return OmegaConf.to_container(compose(chosen), resolve=False)
        except Exception:
            continue
    return {}


def _dotted_keys(tree: Any, include_hydra: bool, prefix: str = "") -> list[str]:
    """Every key of a nested dict as ``a.b.c`` (nodes and leaves), without hydra's unless asked."""
    keys: list[str] = []
    if not isinstance(tree, dict):
        return keys
    for name, value in tree.items():
        if not prefix and name == "hydra" and not include_hydra:
            continue
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        keys.extend(_dotted_keys(value, include_hydra, f"{dotted}."))
    return keys


def _has_key(tree: Any, key: str) -> bool:
    from dlbook.config.overrides import _ABSENT, _select

    return _select(tree, key) is not _ABSENT


def _unknown_sweep_key(cfg, command: str, overrides: list[str]) -> str | None:
    """In a multirun, Hydra sets swept keys per job only: check that each swept key exists.

    Skipped when a config group is swept too (``experiment=imdb,reuters``): a key may then exist
    in some of the jobs' configs only.
    """
    from omegaconf import OmegaConf

    groups = config_groups(cfg)
    swept = [item for item in _parse(overrides) if item.is_sweep_override()]
    if any(item.key_or_group in groups for item in swept):
        return None
    tree = OmegaConf.to_container(cfg, resolve=False)
    for item in swept:
        if item.is_add() or item.is_force_add() or item.is_delete() or item.package is not None:
            continue
        if not _has_key(tree, item.key_or_group):
            return _unknown_key(item.input_line, item.key_or_group, command, tree)
    return None


def _earlier_run_in_run_dir(cfg, overrides: list[str]) -> str | None:
    """Refuse an explicit ``hydra.run.dir`` that holds an earlier run: Hydra would rewrite its .hydra/ files."""
    from omegaconf import OmegaConf

    lines = [item for item in overrides if item.lstrip("+").startswith("hydra.run.dir=")]
    if any(item.startswith("resume=") for item in overrides):
        return None  # `dlbook train resume=<run dir>` continues that run in its own folder (dlbook.run.resume)
    if not lines or OmegaConf.select(cfg, "hydra.output_subdir") is None:
        return None  # the default folder is new (named to the microsecond); no .hydra/ is written
    try:
        folder = Path(str(OmegaConf.select(cfg, "hydra.run.dir")))
    except Exception:
        return None
    from dlbook.run.directory import STATUS_FILE

    if (folder / STATUS_FILE).is_file():
        held = f"an earlier run ({folder / STATUS_FILE})"
    elif (folder / ".hydra").is_dir():
        held = f"the .hydra/ folder of an earlier job ({folder / '.hydra'})"
    else:
        return None
    return (
        f"{lines[-1]} is not valid: {folder} already holds {held}, and dlbook never writes into an "
        "earlier run. Leave hydra.run.dir out (every run gets a new folder, named to the microsecond) "
        "or give a folder that holds no run."
    )


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")
