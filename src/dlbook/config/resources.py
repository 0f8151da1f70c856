"""Where dlbook's configuration trees live.

In a wheel, ``conf/`` and ``experiments/`` ship inside the package (``dlbook/conf``,
``dlbook/experiments``); in a checkout (editable install) they sit at the repository root.
Only the standard library is imported here: this module runs before any command starts.
"""

from __future__ import annotations

from pathlib import Path

# This module sits in dlbook/config/: the package is its parent folder.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _locate(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"dlbook's '{name}/' folder was not found next to the package ({PACKAGE_DIR}) nor in the "
        "checkout; reinstall dlbook."
    )


def conf_dir() -> Path:
    """The folder with the config groups and the primary configs (train.yaml, evaluate.yaml)."""
    return _locate("conf")


def experiments_dir() -> Path:
    """The folder with the catalogue: one YAML file per book experiment (the `experiment` group)."""
    return _locate("experiments")
