"""What a run records about itself for later: the plain command that repeats it, and its tags.

- ``rerun_command``: ``dlbook train experiment=imdb seed=3 ...``, the job's own overrides as a user types
  them. Inside a sweep, ``sys.argv`` is the launcher's worker command line (a pickled job, a slot number),
  which repeats nothing; the overrides Hydra composed the job from are what defines the run. provenance.json
  keeps the process's raw argv beside it (``argv``).
- ``record_tags``: ``tags=[baseline,lr-study]`` into status.json, where `dlbook runs` reads them without
  composing any config.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Overrides that say how a run was launched, not what it is: a rerun starts afresh, outside any study.
LAUNCH_ONLY = ("resume", "trial")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def rerun_command(overrides: list[str], config_dirs: list[str] = ()) -> str:
    """``dlbook train <overrides>``, shell-quoted, without the launch-only ones (resume=, trial=)."""
    kept = [override for override in overrides if _key(override) not in LAUNCH_ONLY]
    options = [part for directory in config_dirs for part in ("--config-dir", directory)]
    return shlex.join(["dlbook", "train", *options, *kept])


def job_rerun_command() -> str | None:
    """The plain command that repeats the current Hydra job (None outside one)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    # A folder given with --config-dir (a user's own experiments) is needed to compose the run again.
    config_dirs = [
        str(Path(source.path).resolve())
        for source in hydra.runtime.config_sources
        if source.provider == "command-line" and source.schema == "file"
    ]
    return rerun_command(list(hydra.overrides.task), config_dirs)


def rerun_provenance() -> dict[str, Any]:
    """provenance.json's ``command`` (the plain rerun command) and ``argv`` (what the process was started with)."""
    command = job_rerun_command()
    return {"command": command, "argv": list(sys.argv)} if command else {"argv": list(sys.argv)}


def run_tags(cfg: DictConfig) -> list[str]:
    """The run's ``tags`` as a plain list (checked by dlbook.config.checks)."""
    tags = OmegaConf.select(cfg, "tags", default=None)
    if tags is None:
        return []
    if isinstance(tags, str):
        return [tags]
    return [str(tag) for tag in OmegaConf.to_container(tags)]


def record_tags(run_dir: str | Path, tags: list[str]) -> None:
    """Add ``tags`` to the run's status.json (kept there through every later status)."""
    from dlbook.run.directory import STATUS_FILE, read_json, write_json

    status_file = Path(run_dir) / STATUS_FILE
    status = read_json(status_file)
    status["tags"] = list(tags)
    write_json(status_file, status)
