"""Check the composed config before any work starts, with messages that name key, value and what is valid.

Hydra accepts any value for a key that exists (``trainer.epochs=ten`` composes fine); these checks
turn such mistakes into one clear paragraph instead of an error deep inside Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dlbook.errors import ConfigError
from dlbook.results.runs_table import TAG_PATTERN
from dlbook.run.callbacks import PROGRESS_MODES
from dlbook.run.directory import MODEL_FILE, STATUS_FILE

# A run's composed config, written by Hydra into the run directory.
RUN_CONFIG = ".hydra/config.yaml"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _optional_positive_int(value: Any) -> bool:
    return value is None or _positive_int(value)


def _strings(value: Any) -> bool:
    return isinstance(value, (list, ListConfig)) and all(isinstance(item, str) for item in value)


def _named_strings(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(item, str) for item in value.values())


def _tags(value: Any) -> bool:
    # Short labels that read well in a table column and as MLflow tag keys; no duplicates.
    return (
        isinstance(value, (list, ListConfig))
        and all(isinstance(tag, str) and TAG_PATTERN.fullmatch(tag) for tag in value)
        and len(set(value)) == len(value)
    )


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _validation_size(value: Any) -> bool:
    # A count of held-out examples (checked against the training set once it is loaded) or a fraction.
    return value is None or _positive_int(value) or (isinstance(value, float) and 0.0 < value < 1.0)


def _folds(value: Any) -> bool:
    return _is_int(value) and value >= 2


# key -> (test, what a valid value is, an example)
CHECKS: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "tags": (
        _tags,
        "a list of distinct short labels, each 1 to 32 letters, digits or - _ . : (starting with a letter or digit)",
        "tags=[baseline,lr-study]",
    ),
    "seed": (_is_int, "an integer", "seed=0"),
    "objective": (
        lambda v: v is None or (isinstance(v, str) and bool(v)),
        "null (the experiment's reference metric) or the dotted name of a metric in metrics.json",
        "objective=test.mae",
    ),
    "deterministic": (lambda v: isinstance(v, bool), "true or false", "deterministic=true"),
    "trainer.epochs": (_positive_int, "a positive integer (epochs of the main fit)", "trainer.epochs=20"),
    "trainer.batch_size": (_positive_int, "a positive integer", "trainer.batch_size=512"),
    "trainer.eval_batch_size": (_positive_int, "a positive integer", "trainer.eval_batch_size=512"),
    "trainer.steps_per_execution": (_positive_int, "a positive integer", "trainer.steps_per_execution=1"),
    "trainer.jit_compile": (lambda v: v in ("auto", True, False), "auto, true or false", "trainer.jit_compile=auto"),
    "trainer.steps_per_epoch": (_optional_positive_int, "null or a positive integer", "trainer.steps_per_epoch=100"),
    "trainer.max_epochs": (_optional_positive_int, "null or a positive integer", "trainer.max_epochs=1"),
    "trainer.max_steps": (_optional_positive_int, "null or a positive integer", "trainer.max_steps=3"),
    "trainer.progress": (
        lambda v: v in PROGRESS_MODES,
        "one of " + ", ".join(PROGRESS_MODES),
        "trainer.progress=epochs",
    ),
    "trainer.loss": (
        lambda v: v is None or (isinstance(v, str) and bool(v)) or _named_strings(v),
        "a Keras loss name, one per output ({age: mse, gender: binary_crossentropy}), or null for models "
        "that compute their own loss (vae, dcgan)",
        "trainer.loss=binary_crossentropy",
    ),
    "trainer.metrics": (
        lambda v: (
            (isinstance(v, (list, ListConfig)) and all(isinstance(m, str) or _strings(m) for m in v))
            or (isinstance(v, dict) and all(isinstance(m, str) or _strings(m) for m in v.values()))
        ),
        "a list of Keras metric names (or one list per output: [[mae], [accuracy]])",
        "trainer.metrics=[accuracy]",
    ),
    "optimizer.learning_rate": (_positive_number, "a positive number", "optimizer.learning_rate=1e-3"),
    "task.validation.size": (
        _validation_size,
        "null (no validation slice), a number of training examples >= 1 (fewer than the training set), "
        "or a fraction between 0 and 1",
        "task.validation.size=0.2",
    ),
    "task.folds": (
        _folds,
        "an integer >= 2 (the number of folds, at most the number of training examples)",
        "task.folds=4",
    ),
}


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value among the keys every run relies on."""
    for key, (valid, expected, example) in CHECKS.items():
        if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
            continue
        value = OmegaConf.select(cfg, key)
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value)
        if not valid(value):
            raise ConfigError(f"{key}={value!r} is not valid: expected {expected}, e.g. `dlbook train {example}`.")
    init_from = OmegaConf.select(cfg, "trainer.init_from", default=None)
    if init_from is not None:
        problem = run_directory_problem(init_from, "trainer.init_from", needs=(MODEL_FILE,))
        if problem:
            raise ConfigError(problem)


def run_directory_problem(run: Any, key: str = "run", needs: tuple[str, ...] = (MODEL_FILE, RUN_CONFIG)) -> str | None:
    """Why ``run`` (the value of ``key``) is not the directory of a completed run; None when it is.

    A run directory is what `dlbook train` writes and prints at its end. ``dlbook evaluate``,
    ``generate`` and ``visualize`` (``run=``) need its model.keras and .hydra/config.yaml;
    ``trainer.init_from=`` needs its model.keras only.
    """
    folder = Path(str(run)).expanduser()
    holds = (
        "A run directory is the folder `dlbook train` prints at its end (e.g. "
        f"outputs/imdb/2026-11-26_16-02-11_123456); it holds {MODEL_FILE} (the trained model), "
        f"{RUN_CONFIG} (its config), {STATUS_FILE} and metrics.json."
    )
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        return f"{key}={run} is not a completed dlbook run: {folder} {what}. {holds}"
    missing = [name for name in needs if not (folder / name).is_file()]
    if not missing:
        return None
    status = _run_status(folder / STATUS_FILE)
    if status not in (None, "completed"):
        why = f"its {STATUS_FILE} says {status}, so it has no {' and no '.join(missing)}"
    elif (folder / "multirun.yaml").is_file():
        why = f"it is a sweep folder; give one of its job folders, e.g. {key}={Path(str(run)) / '0'}"
    else:
        why = f"it has no {' and no '.join(missing)}"
    return f"{key}={run} is not a completed dlbook run: {why}. {holds}"


def _run_status(status_file: Path) -> str | None:
    import json

    try:
        return str(json.loads(status_file.read_text(encoding="utf-8")).get("status"))
    except (OSError, ValueError, AttributeError):
        return None
