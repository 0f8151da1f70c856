"""A fit's backup: atomic commits, torn ones moved aside and never read, a full disk that leaves the last commit."""

from __future__ import annotations

import errno
import json
import logging
import shutil

import numpy as np
import pytest

import dlbook.run.backup
from dlbook.run.backup import MARKER_FILE, STATE_FILE, FitBackup


def small_model(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(1)]
    )
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def train_a_little(model, steps: int = 2) -> None:
    rng = np.random.default_rng(steps)
    model.fit(rng.random((8 * steps, 3)), rng.random((8 * steps, 1)), batch_size=8, verbose=0, shuffle=False)


def values(model) -> list[np.ndarray]:
    return [variable.numpy() for variable in [*model.variables, *model.optimizer.variables]]


def journal(epochs: int) -> list[dict]:
    return [{"epoch": epoch, "logs": {"loss": 1.0 / (epoch + 1)}, "seconds": 0.1} for epoch in range(epochs)]


def save(backup: FitBackup, model, epoch: int) -> None:
    backup.save(model, epoch, position=epoch * 5, data_order={"mode": "epochs", "seed": 1}, journal=journal(epoch))


@pytest.fixture
def two_commits(tmp_path):
    """A backup whose newest complete commit is epoch 1, and the model states of epochs 1 and 2."""
    backup = FitBackup(tmp_path, 1, "fit")
    model = small_model()
    train_a_little(model)
    save(backup, model, 1)
    first = values(model)
    train_a_little(model, 3)
    second = values(model)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    return backup, model, first, second


def test_a_commit_restores_weights_optimizer_and_seed_generator_state(tmp_path):
    backup = FitBackup(tmp_path, 1, "fit")
    model = small_model()
    train_a_little(model)
    save(backup, model, 1)
    saved = values(model)
    commit = backup.latest()
    assert commit.epoch == 1 and commit.position == 5 and commit.journal == journal(1)
    assert any("seed_generator" in variable.path for variable in model.variables)  # dropout's draws resume too

    fresh = small_model(seed=5)  # another initialisation, its optimizer not built yet
    commit.restore(fresh)
    for expected, restored in zip(saved, values(fresh), strict=True):
        np.testing.assert_array_equal(expected, restored)


def test_each_commit_replaces_the_previous_one_only_once_it_is_complete(two_commits):
    backup, model, _, second = two_commits
    save(backup, model, 2)
    assert sorted(path.name for path in backup.path.iterdir()) == ["epoch-00002"]
    assert sorted(path.name for path in (backup.path / "epoch-00002").iterdir()) == [MARKER_FILE, STATE_FILE]
    assert backup.latest().epoch == 2


def _partial_commit(backup, model, first, second):
    """The process stopped while writing epoch 2's commit: a hidden folder with half a state file."""
    save(backup, model, 2)
    _keep_epoch_1(backup, first)
    partial = backup.path / ".partial-epoch-00002-123"
    (backup.path / "epoch-00002").rename(partial)
    state = partial / STATE_FILE
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    (partial / MARKER_FILE).unlink()


def _truncated_state(backup, model, first, second):
    """Epoch 2's commit, its state file cut in half (a disk that lost the file's tail)."""
    save(backup, model, 2)
    _keep_epoch_1(backup, first)
    state = backup.path / "epoch-00002" / STATE_FILE
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])


def _no_marker(backup, model, first, second):
    """Epoch 2's weights without the marker that says what they are (stopped between the two writes)."""
    save(backup, model, 2)
    _keep_epoch_1(backup, first)
    (backup.path / "epoch-00002" / MARKER_FILE).unlink()


def _empty_marker(backup, model, first, second):
    """Epoch 2's commit with an empty marker (Keras' torn training_metadata.json)."""
    save(backup, model, 2)
    _keep_epoch_1(backup, first)
    (backup.path / "epoch-00002" / MARKER_FILE).write_text("")


def _state_of_another_epoch(backup, model, first, second):
    """Epoch 1's marker with epoch 2's state (new weights, the previous epoch's metadata)."""
    save(backup, model, 2)
    _keep_epoch_1(backup, first)
    shutil.copy(backup.path / "epoch-00002" / STATE_FILE, backup.path / "epoch-00001" / STATE_FILE)
    shutil.rmtree(backup.path / "epoch-00002")


def _keep_epoch_1(backup, first):
    """Put a complete epoch-1 commit back beside the newer one (as it is while the newer one is written)."""
    model = small_model()
    for variable, value in zip([*model.variables, *_built(model).variables], first, strict=True):
        variable.assign(value)
    (backup.path / "epoch-00002").rename(backup.path / "keep")
    save(backup, model, 1)
    (backup.path / "keep").rename(backup.path / "epoch-00002")


def _built(model):
    model.optimizer.build(model.trainable_variables)
    return model.optimizer


@pytest.mark.parametrize(
    "tear", [_partial_commit, _truncated_state, _no_marker, _empty_marker], ids=lambda tear: tear.__name__[1:]
)
def test_a_torn_newest_commit_is_moved_aside_and_the_previous_one_is_read(two_commits, tear, caplog):
    backup, model, first, second = two_commits
    tear(backup, model, first, second)
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        commit = backup.latest()
    assert commit is not None and commit.epoch == 1 and commit.journal == journal(1)
    assert "is torn" in caplog.text and "moved aside" in caplog.text
    assert [path.name for path in backup.path.iterdir() if path.name != "torn"] == ["epoch-00001"]
    assert len(list((backup.path / "torn").iterdir())) == 1  # kept for a look, never read
    restored = small_model(seed=9)
    commit.restore(restored)
    for expected, actual in zip(first, values(restored), strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_a_commit_whose_state_is_not_the_one_it_recorded_is_never_trusted(two_commits, caplog):
    backup, model, first, second = two_commits
    _state_of_another_epoch(backup, model, first, second)
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        assert backup.latest() is None  # nothing trustworthy: the fit starts from its first epoch
    assert "another checksum" in caplog.text


def test_a_full_disk_while_saving_keeps_the_previous_commit_and_the_next_save_works(two_commits, monkeypatch):
    backup, model, first, second = two_commits
    before = {path.name: path.read_bytes() for path in (backup.path / "epoch-00001").iterdir()}
    real_write = dlbook.run.backup._write_state

    def full_disk(path, arrays):
        real_write(path, arrays)
        path.write_bytes(path.read_bytes()[:100])  # what fitted on the disk
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(dlbook.run.backup, "_write_state", full_disk)
    with pytest.raises(OSError) as error:
        save(backup, model, 2)
    assert error.value.errno == errno.ENOSPC
    assert [path.name for path in backup.path.iterdir()] == ["epoch-00001"]  # no partial commit left
    assert {path.name: path.read_bytes() for path in (backup.path / "epoch-00001").iterdir()} == before
    assert backup.latest().epoch == 1

    monkeypatch.setattr(dlbook.run.backup, "_write_state", real_write)  # space is back
    save(backup, model, 2)
    assert backup.latest().epoch == 2
    assert json.loads((backup.path / "epoch-00002" / MARKER_FILE).read_text())["journal"] == journal(2)


def test_a_stop_between_replacing_a_commit_of_the_same_epoch_keeps_the_previous_one(two_commits, caplog):
    """Saving epoch 1 again renames the earlier epoch-1 commit aside first; stopped right then, it is still read."""
    backup, model, first, _ = two_commits
    (backup.path / "epoch-00001").rename(backup.path / ".old-epoch-00001-77")
    commit = backup.latest()
    assert commit is not None and commit.epoch == 1
    assert [path.name for path in backup.path.iterdir()] == ["epoch-00001"]
    restored = small_model(seed=3)
    commit.restore(restored)
    for expected, actual in zip(first, values(restored), strict=True):
        np.testing.assert_array_equal(expected, actual)
