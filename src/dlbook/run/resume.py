"""Resuming a run: `dlbook train resume=<run dir>` and `dlbook train -m resume=<sweep dir>`.

A resumed run is the same run again, in its own directory, with the config it started with; each of its
fits starts from its backup's newest complete commit (``dlbook.run.backup``), and its training stream from the
position saved there (``dlbook.run.training_stream``), so under ``deterministic=true`` on CPU a run killed at
any instant and resumed ends with the same metrics as one never interrupted.
"""

from __future__ import annotations

from pathlib import Path

from dlbook.config.moved_targets import update_override

# Overrides a resumed run may add to its saved config: they change how long or how verbosely it trains,
# not what it is. hydra.launcher.* (how many jobs at once, on which GPUs) may change for a sweep.
SAFE_OVERRIDES = ("trainer.epochs", "trainer.progress", "hydra.verbose")


def resume_arguments(arguments: list[str]) -> list[str]:
    """`dlbook train [-m] resume=<dir> [safe overrides]` as the arguments that recreate that run or sweep.

    A run: its saved overrides (``.hydra/overrides.yaml``), the safe new ones, ``resume=<dir>`` and
    ``hydra.run.dir=<dir>``. A sweep (``-m``): the sweep's own overrides and Hydra settings from its
    ``multirun.yaml``, the new ones, ``resume=<dir>`` and ``hydra.sweep.dir=<dir>``; the sweeper then
    launches only the jobs that did not complete. Raises DlbookError for a directory that is not a run
    (or sweep), a completed run, or an override that would change what the run is.
    """
    from dlbook.errors import DlbookError

    given = [argument for argument in arguments if argument.startswith("resume=")]
    if not given:
        return arguments
    path = Path(given[-1].split("=", 1)[1])
    multirun = any(argument in ("-m", "--multirun") for argument in arguments)
    others = [
        argument
        for argument in arguments
        if not argument.startswith("resume=") and argument not in ("-m", "--multirun")
    ]
    unsafe = [
        argument
        for argument in others
        if not argument.startswith("-")
        and _key(argument) not in SAFE_OVERRIDES
        and not (multirun and _key(argument).startswith("hydra.launcher."))
    ]
    if unsafe:
        raise DlbookError(
            f"{unsafe[0]} is not valid with resume={path}: a resumed run keeps the config it started with. "
            f"Only {', '.join(SAFE_OVERRIDES)}{' and hydra.launcher.*' if multirun else ''} may be added; "
            "start a new run to change anything else."
        )
    if multirun:
        saved, hydra_saved = _sweep_overrides(path)
        return ["-m", *_merge(saved + hydra_saved, others), f"resume={path}", f"hydra.sweep.dir={path}"]
    return [*_merge(_run_overrides(path), others), f"resume={path}", f"hydra.run.dir={path}"]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _merge(saved: list[str], new: list[str]) -> list[str]:
    """``saved`` overrides with the ones ``new`` sets again replaced, then ``new``; earlier resume/dir keys dropped."""
    replaced = {_key(argument) for argument in new if not argument.startswith("-")}
    dropped = replaced | {"resume", "hydra.run.dir", "hydra.sweep.dir"}
    return [argument for argument in saved if _key(argument) not in dropped] + new


def _run_overrides(path: Path) -> list[str]:
    from dlbook.errors import DlbookError
    from dlbook.run.directory import STATUS_FILE, read_json

    overrides_file = path / ".hydra" / "overrides.yaml"
    if not path.is_dir() or not overrides_file.exists() or not (path / STATUS_FILE).exists():
        raise DlbookError(
            f"resume={path} is not valid: it is not a run directory (one holds .hydra/overrides.yaml and "
            f"{STATUS_FILE}). Give the directory that `dlbook train` printed, e.g. outputs/imdb/<timestamp>; "
            "for a sweep, add -m and give its sweep directory."
        )
    status = read_json(path / STATUS_FILE).get("status")
    if status == "completed":
        raise DlbookError(f"resume={path} is not valid: that run is already completed; there is nothing to resume.")
    # A run saved before a module moved may name it in an override (dlbook.config.moved_targets).
    return [update_override(override) for override in _yaml_list(overrides_file)]


def _sweep_overrides(path: Path) -> tuple[list[str], list[str]]:
    """(task overrides, Hydra overrides) the sweep in ``path`` was started with, from its multirun.yaml."""
    import yaml

    from dlbook.errors import DlbookError

    multirun_file = path / "multirun.yaml"
    if not multirun_file.exists():
        raise DlbookError(
            f"resume={path} is not valid with -m: it is not a sweep directory (one holds multirun.yaml and a "
            "folder per job), e.g. outputs/multirun/<experiment>/<timestamp>. To resume a single run, leave out -m."
        )
    overrides = (yaml.safe_load(multirun_file.read_text(encoding="utf-8")) or {}).get("hydra", {}).get("overrides", {})
    task = [update_override(str(override)) for override in overrides.get("task") or []]
    return task, list(overrides.get("hydra") or [])


def _yaml_list(path: Path) -> list[str]:
    import yaml

    return [str(item) for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or [])]
