"""A fit's backup for resuming: one crash-consistent commit per saved epoch.

Every fit of a run (``fit``, ``fold_1`` ... ``fold_K``, ``retrain``, the phases) has a folder under
``<run>/checkpoints/backup/``, named by its place in the run (``01_fold_1``). At the end of every epoch the
fit's state is committed there as one folder, ``epoch-00007/``:

- ``state.npz``: every variable of the model (weights, and the states of its random seed generators, so
  dropout draws the same masks after a resume) and of its optimizer (slots, iteration count);
- ``commit.json``: the epochs done, the position in the fit's training stream (batches consumed), the
  data order (the stream's seed and mode), the journal of the epochs' metrics, and the size and SHA-256 of
  ``state.npz``.

A commit is written in a hidden ``.partial-*`` folder (each file fsynced), then made visible by one
rename and an fsync of the parent folder; only then is the previous commit removed. So at any instant
the folder holds a complete commit (the new one or the previous one) and perhaps a partial one.
Reading takes the newest commit whose marker parses and whose files match their recorded size and
hash; anything else (a partial folder, a truncated file, a commit without its marker) is moved aside to
``torn/`` with a log line and never read. A save that fails (a full disk) removes its partial folder and
leaves the previous commit as it was.

A fit that finished keeps its last commit until the whole run completes, so a resumed k-fold run
restores finished folds at once instead of training them again. A fit that stopped early (early stopping)
is committed once more when it ends, as done after all its epochs (with the weights it ended with), so a
resumed run does not train it on. The state of other callbacks (early stopping's patience count, say) is
not part of a commit: a fit resumed in the middle starts them afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbook.run.directory import BACKUP_DIR, fsync_directory, write_json

log = logging.getLogger("dlbook")

COMMIT_PREFIX = "epoch-"
MARKER_FILE = "commit.json"
STATE_FILE = "state.npz"
TORN_DIR = "torn"
PARTIAL_PREFIX = ".partial-"
# A superseded commit is renamed to this before it is deleted, so a half-deleted one is never taken for a commit.
OLD_PREFIX = ".old-"
FORMAT = 1


@dataclass
class Commit:
    """One complete commit of a fit: where it is and what its marker says."""

    path: Path
    manifest: dict[str, Any]

    @property
    def epoch(self) -> int:
        """Epochs done when the commit was made."""
        return int(self.manifest["epoch"])

    @property
    def position(self) -> int:
        """Batches of the fit's training stream consumed by those epochs."""
        return int(self.manifest["position"])

    @property
    def journal(self) -> list[dict[str, Any]]:
        """The epochs' rows: {"epoch", "logs", "seconds"}."""
        return list(self.manifest["journal"])

    def restore(self, model) -> None:
        """Load the committed variables into ``model`` and its optimizer (built by then, as in ``fit``)."""
        import numpy as np

        from dlbook.errors import DlbookError

        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # Keras creates the optimizer's slots at the first training step; the commit's must go somewhere.
            optimizer.build(model.trainable_variables)
        with np.load(self.path / STATE_FILE, allow_pickle=False) as state:
            for group, variables in _variable_groups(model).items():
                count = int(state[f"{group}_count"])
                if count != len(variables):
                    raise DlbookError(
                        f"The backup {self.path} holds {count} {group} variables, but this run's model has "
                        f"{len(variables)}: it does not belong to this run's config. Start a new run, or move "
                        "the backup folder away to train this fit from its first epoch."
                    )
                for index, variable in enumerate(variables):
                    value = state[f"{group}_{index:05d}"]
                    if tuple(value.shape) != tuple(variable.shape):
                        raise DlbookError(
                            f"The backup {self.path} does not fit this run's model: {group} variable {index} "
                            f"({variable.path}) has shape {tuple(variable.shape)}, the backup {tuple(value.shape)}. "
                            "Start a new run, or move the backup folder away to train this fit from its first epoch."
                        )
                    variable.assign(value)


def _variable_groups(model) -> dict[str, list]:
    """The variables a commit holds, in a stable order: the model's (with seed generator states), the optimizer's."""
    groups = {"model": list(model.variables)}
    if getattr(model, "optimizer", None) is not None:
        groups["optimizer"] = list(model.optimizer.variables)
    return groups


class FitBackup:
    """The backup folder of one fit of a run: its commits."""

    def __init__(self, run_dir: str | Path, fit_number: int, phase: str) -> None:
        self.path = Path(run_dir) / BACKUP_DIR / f"{fit_number:02d}_{phase}"

    def latest(self) -> Commit | None:
        """The newest complete commit (None when there is none); anything torn is moved aside to ``torn/``."""
        if not self.path.is_dir():
            return None
        found: list[tuple[int, Path]] = []
        superseded: list[Path] = []
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith(PARTIAL_PREFIX):
                self._move_aside(entry, "a commit that was still being written (the process stopped during a save)")
            elif entry.name.startswith(OLD_PREFIX):
                superseded.append(entry)
            elif entry.name.startswith(COMMIT_PREFIX):
                try:
                    found.append((int(entry.name[len(COMMIT_PREFIX) :]), entry))
                except ValueError:
                    self._move_aside(entry, "not a commit name")
        for _, path in sorted(found, reverse=True):
            manifest, problem = _check(path)
            if manifest is not None:
                for entry in superseded:  # a newer complete commit replaced them
                    shutil.rmtree(entry, ignore_errors=True)
                return Commit(path, manifest)
            self._move_aside(path, problem)
        # Only superseded commits left: the process stopped between renaming the previous commit of the same
        # epoch aside and renaming the new one in. The previous one, if whole, is still the newest complete.
        for entry in sorted(superseded, key=lambda path: path.stat().st_mtime, reverse=True):
            manifest, _ = _check(entry)
            if manifest is not None:
                restored = self.path / f"{COMMIT_PREFIX}{int(manifest['epoch']):05d}"
                entry.rename(restored)
                return Commit(restored, manifest)
            shutil.rmtree(entry, ignore_errors=True)
        return None

    def save(self, model, epoch: int, position: int, data_order: dict[str, Any], journal: list[dict[str, Any]]):
        """Commit the fit's state after ``epoch`` epochs (``position`` batches of its stream consumed)."""
        import numpy as np

        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{COMMIT_PREFIX}{epoch:05d}"
        partial = self.path / f"{PARTIAL_PREFIX}{name}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            partial.mkdir()
            arrays = {}
            for group, variables in _variable_groups(model).items():
                arrays[f"{group}_count"] = np.asarray(len(variables))
                for index, variable in enumerate(variables):
                    arrays[f"{group}_{index:05d}"] = np.asarray(variable.numpy())
            _write_state(partial / STATE_FILE, arrays)
            manifest = {
                "format": FORMAT,
                "epoch": epoch,
                "position": position,
                "data_order": data_order,
                "journal": journal,
                "files": {STATE_FILE: _fingerprint(partial / STATE_FILE)},
            }
            write_json(partial / MARKER_FILE, manifest)  # the marker goes last: a commit without it is torn
            fsync_directory(partial)
            target = self.path / name
            if target.exists():  # the same epoch committed before (the fit resumed from an older commit)
                target.rename(self.path / f"{OLD_PREFIX}{name}-{os.getpid()}")
            partial.rename(target)
            fsync_directory(self.path)
        except BaseException:
            # A failed save (a full disk) or a stop during it leaves the previous commit as the newest one.
            shutil.rmtree(partial, ignore_errors=True)
            raise
        # Older commits go only now that the new one is complete and durable.
        for entry in self.path.iterdir():
            if entry.name.startswith(COMMIT_PREFIX) and entry.name != name:
                superseded = self.path / f"{OLD_PREFIX}{entry.name}-{os.getpid()}"
                entry.rename(superseded)
                shutil.rmtree(superseded, ignore_errors=True)
            elif entry.name.startswith(OLD_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)

    def _move_aside(self, path: Path, reason: str) -> None:
        torn = self.path / TORN_DIR
        torn.mkdir(exist_ok=True)
        destination = torn / path.name.lstrip(".")
        number = 1
        while destination.exists():
            number += 1
            destination = torn / f"{path.name.lstrip('.')}.{number}"
        path.rename(destination)
        log.warning("backup: %s is torn (%s); moved aside to %s, not used", path, reason, destination)


def _write_state(path: Path, arrays: dict[str, Any]) -> None:
    """``arrays`` as an .npz file, flushed to the disk before it returns."""
    import numpy as np

    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
        stream.flush()
        os.fsync(stream.fileno())


def _fingerprint(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _check(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the commit's manifest, "") when ``path`` is a complete commit; (None, what is wrong) otherwise."""
    try:
        manifest = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no {MARKER_FILE}"
    except (OSError, ValueError) as error:
        return None, f"{MARKER_FILE} unreadable: {error}"
    required = ("format", "epoch", "position", "data_order", "journal", "files")
    if not isinstance(manifest, dict) or any(key not in manifest for key in required):
        return None, f"{MARKER_FILE} lacks {', '.join(required)}"
    name = path.name.removeprefix(OLD_PREFIX).rsplit("-", 1)[0] if path.name.startswith(OLD_PREFIX) else path.name
    if manifest["format"] != FORMAT or f"{COMMIT_PREFIX}{int(manifest['epoch']):05d}" != name:
        return None, f"{MARKER_FILE} is of another format or epoch"
    for name, expected in manifest["files"].items():
        try:
            actual = _fingerprint(path / name)
        except OSError as error:
            return None, f"{name} unreadable: {error}"
        if actual != expected:
            return None, f"{name} has {actual['bytes']} bytes and another checksum than its commit recorded"
    return manifest, ""


def backup_callbacks(backup: FitBackup, commit: Commit | None, timer, stream, journal, epochs: int) -> tuple:
    """The Keras callbacks of a fit's backup, (first, last) in the fit's callback list.

    The first restores ``commit`` when training begins and commits the fit's state (with ``stream``'s
    position) at the end of every epoch. The last, after every other callback has finished the fit (early
    stopping restores its best weights then), commits a fit that stopped before ``epochs`` as finished, so
    that a resumed run does not train it on.
    """
    import keras

    class Backup(keras.callbacks.Callback):
        # No batch hooks: Keras' asynchronous batch-end callbacks stay on.
        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.rows = list(journal)
            self.trained = False

        def on_train_begin(self, logs=None):
            if commit is not None:
                commit.restore(self.model)

        def on_epoch_end(self, epoch, logs=None):
            self.trained = True
            seconds = timer.seconds[-1] if timer.seconds else None
            values = {key: float(value) for key, value in (logs or {}).items() if _is_number(value)}
            self.rows = [row for row in self.rows if row["epoch"] < epoch]
            self.rows.append({"epoch": epoch, "logs": values, "seconds": seconds})
            backup.save(self.model, epoch + 1, stream.position(epoch + 1), stream.description(), self.rows)

    class Finish(keras.callbacks.Callback):
        async_safe = True

        def on_train_end(self, logs=None):
            # Keras calls this only when the fit ends normally: all its epochs, or stopped early.
            if first.trained and len(first.rows) < epochs:
                order = {**stream.description(), "stopped_after": len(first.rows)}
                backup.save(self.model, epochs, stream.position(len(first.rows)), order, first.rows)

    first = Backup()
    return first, Finish()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
