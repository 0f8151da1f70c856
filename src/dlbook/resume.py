"""Resuming a run: each fit keeps a backup of its last completed epoch, and a resumed fit starts from it.

Every fit of a run (``fit``, ``fold_1`` ... ``fold_K``, ``retrain``, the phases) has a folder under
``<run>/checkpoints/backup/``, named by its place in the run (``01_fold_1``). Keras' ``BackupAndRestore``
saves the model, its optimizer and the epoch there at the end of every epoch, and a journal beside it keeps
the epochs' metrics (Keras' history of a resumed fit starts at the epoch it resumes from). A fit that
finished keeps its backup until the whole run completes, so a resumed k-fold run restores finished folds
at once instead of training them again.

The training data of a fit is one endless, reshuffled-per-pass stream (``Trainer.fit``), so a resumed fit
skips ``epochs done x steps per epoch`` batches and sees exactly the batches the uninterrupted fit would
have seen: under ``deterministic=true`` on CPU a resumed run ends with the same metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dlbook.runs import BACKUP_DIR

JOURNAL_FILE = "epochs.json"
METADATA_FILE = "training_metadata.json"


class FitBackup:
    """The backup folder of one fit of a run."""

    def __init__(self, run_dir: str | Path, fit_number: int, phase: str) -> None:
        self.path = Path(run_dir) / BACKUP_DIR / f"{fit_number:02d}_{phase}"

    def epochs_done(self) -> int:
        """Epochs the backup holds (what BackupAndRestore will restore); 0 when there is none."""
        metadata = self.path / METADATA_FILE
        if not metadata.exists():
            return 0
        try:
            return int(json.loads(metadata.read_text(encoding="utf-8"))["epoch"])
        except (ValueError, KeyError, OSError):
            return 0

    def journal(self, epochs: int) -> list[dict[str, Any]]:
        """The first ``epochs`` epochs' rows of the journal: {"epoch", "logs", "seconds"}."""
        journal = self.path / JOURNAL_FILE
        if not journal.exists():
            return []
        rows = json.loads(journal.read_text(encoding="utf-8"))
        return [row for row in rows if row["epoch"] < epochs]

    def callbacks(self, timer, rows: list[dict[str, Any]]) -> list:
        """The journal (continuing ``rows``, the restored epochs) and Keras' BackupAndRestore, in this order
        (the journal is written first each epoch)."""
        import keras

        self.path.mkdir(parents=True, exist_ok=True)
        # double_checkpoint: a process killed while saving leaves the previous epoch's backup usable.
        backup = keras.callbacks.BackupAndRestore(
            backup_dir=str(self.path), save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
        )
        # Its batch hook does nothing when saving once per epoch; saying so keeps Keras' asynchronous
        # batch-end callbacks on (measured: the IMDB LSTM's epochs took 1.2x as long without them).
        backup.async_safe = True
        return [_Journal(self.path / JOURNAL_FILE, timer, rows), backup]


def _journal_class():
    import keras

    class Journal(keras.callbacks.Callback):
        """Appends each finished epoch's metrics and time to the fit's journal (written atomically)."""

        def __init__(self, path: Path, timer, rows: list[dict[str, Any]]) -> None:
            super().__init__()
            self.path, self.timer, self.rows = path, timer, list(rows)

        def on_epoch_end(self, epoch, logs=None):
            seconds = self.timer.seconds[-1] if self.timer.seconds else None
            values = {key: float(value) for key, value in (logs or {}).items() if _is_number(value)}
            self.rows = [row for row in self.rows if row["epoch"] < epoch]
            self.rows.append({"epoch": epoch, "logs": values, "seconds": seconds})
            temporary = self.path.with_name(f".{self.path.name}.tmp")
            temporary.write_text(json.dumps(self.rows), encoding="utf-8")
            os.replace(temporary, self.path)

    return Journal


def _Journal(path: Path, timer, rows: list[dict[str, Any]]):  # noqa: N802 - builds a Keras callback lazily
    return _journal_class()(path, timer, rows)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


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
    from dlbook.runs import STATUS_FILE, read_json

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
    return _yaml_list(overrides_file)


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
    return list(overrides.get("task") or []), list(overrides.get("hydra") or [])


def _yaml_list(path: Path) -> list[str]:
    import yaml

    return [str(item) for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or [])]
