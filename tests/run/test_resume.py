"""Resuming interrupted runs and sweeps: `dlbook train resume=<run dir>` and `dlbook train -m resume=<sweep dir>`."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_runner import DLBOOK, read, run_dlbook

from dlbook.errors import DlbookError
from dlbook.run.resume import resume_arguments

# Boston housing, 2 folds x 30 epochs then a 10-epoch retrain: a few seconds of training with many epoch
# boundaries to stop at. steps_per_execution=1 and deterministic=true: a resumed run must match exactly.
PROTOCOL = [
    "deterministic=true",
    "task.folds=2",
    "trainer.epochs=30",
    "trainer.batch_size=16",
    "trainer.steps_per_execution=1",
    "task.retrain.epochs=10",
    "trainer.progress=none",
]


def start_dlbook(cwd: Path, *arguments: str) -> subprocess.Popen:
    import os

    environment = dict(os.environ, KERAS_HOME=str(cwd / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [*DLBOOK, *arguments], cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def committed_epochs(fit_backup: Path) -> int:
    """The newest epoch committed in a fit's backup folder (0 when none)."""
    try:
        names = [entry.name for entry in fit_backup.iterdir() if entry.name.startswith("epoch-")]
    except OSError:
        return 0
    return max((int(name.split("-")[1]) for name in names), default=0)


def stop_when_fold_2_has_epochs(process: subprocess.Popen, run_dir: Path, epochs: int, sig: int) -> None:
    """Send ``sig`` once the second fold's backup holds ``epochs`` epochs (fold 1 is then finished)."""
    fit_backup = run_dir / "checkpoints" / "backup" / "02_fold_2"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if committed_epochs(fit_backup) >= epochs:
            process.send_signal(sig)
            break
        time.sleep(0.02)
    process.wait(timeout=240)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("uninterrupted")
    done = run_dlbook("train", *PROTOCOL, "hydra.run.dir=run", cwd=workdir, timeout=300)
    assert done.returncode == 0, done.stderr
    return read(workdir / "run" / "metrics.json")


@pytest.mark.slow
def test_a_run_killed_mid_training_resumes_to_the_same_metrics(tmp_path, uninterrupted):
    process = start_dlbook(tmp_path, "train", *PROTOCOL, "hydra.run.dir=run")
    stop_when_fold_2_has_epochs(process, tmp_path / "run", 5, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert read(tmp_path / "run" / "status.json")["status"] == "running"  # what a killed process leaves
    assert not (tmp_path / "run" / "metrics.json").exists()

    resumed = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    log = (tmp_path / "run" / "train.log").read_text()
    assert "fold_1: resuming after epoch 30 of 30" in log
    assert "fold_2: resuming after epoch" in log
    assert read(tmp_path / "run" / "metrics.json") == uninterrupted
    status = read(tmp_path / "run" / "status.json")
    assert status["status"] == "completed" and status["resumed"] == 1
    assert not (tmp_path / "run" / "checkpoints" / "backup").exists()  # backups go once the run is complete


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_and_it_resumes(tmp_path, uninterrupted):
    process = start_dlbook(tmp_path, "train", *PROTOCOL, "hydra.run.dir=run")
    stop_when_fold_2_has_epochs(process, tmp_path / "run", 3, signal.SIGTERM)
    output = process.stdout.read()
    assert process.returncode == 128 + signal.SIGTERM, output
    status = read(tmp_path / "run" / "status.json")
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM"
    assert "dlbook train resume=run" in output

    resumed = run_dlbook("train", "resume=run", "trainer.progress=epochs", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert read(tmp_path / "run" / "metrics.json") == uninterrupted


def test_resume_keeps_the_run_config_and_refuses_other_overrides(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- seed=3\n- trainer.epochs=5\n")
    (run / "status.json").write_text(json.dumps({"status": "interrupted"}))
    assert resume_arguments([f"resume={run}", "trainer.epochs=8"]) == [
        "seed=3",
        "trainer.epochs=8",
        f"resume={run}",
        f"hydra.run.dir={run}",
    ]
    with pytest.raises(DlbookError, match=r"model.units=32 is not valid with resume=.*keeps the config it started"):
        resume_arguments([f"resume={run}", "model.units=32"])
    (run / "status.json").write_text(json.dumps({"status": "completed"}))
    with pytest.raises(DlbookError, match="already completed"):
        resume_arguments([f"resume={run}"])
    with pytest.raises(DlbookError, match="it is not a run directory"):
        resume_arguments([f"resume={tmp_path}"])
    with pytest.raises(DlbookError, match="it is not a sweep directory"):
        resume_arguments(["-m", f"resume={run}"])


def test_resume_from_the_command_line_explains_a_bad_directory(tmp_path):
    done = run_dlbook("train", f"resume={tmp_path}", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "is not a run directory" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_sweep_resumes_only_its_unfinished_jobs(tmp_path):
    first = run_dlbook("train", "-m", "debug=fast", "model.units=8,-1", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sweep = tmp_path / "sweep"
    completed_status = (sweep / "0" / "status.json").read_text()
    assert read(sweep / "1" / "status.json")["status"] == "failed"

    again = run_dlbook("train", "-m", "debug=fast", "model.units=8,-1", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert again.returncode != 0  # the same folder without resume: refused, nothing overwritten
    assert "already hold runs" in again.stderr + again.stdout
    assert (sweep / "0" / "status.json").read_text() == completed_status

    resumed = run_dlbook("train", "-m", f"resume={sweep}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    output = resumed.stdout + resumed.stderr
    assert "jobs 0 completed before; they are not run again" in output
    assert (sweep / "0" / "status.json").read_text() == completed_status  # job 0 did not run again
    status = read(sweep / "1" / "status.json")
    assert status["status"] == "failed" and status["resumed"] == 1  # job 1 ran again (and fails again)
    assert (sweep / "summary.csv").exists()


@pytest.mark.slow
def test_resuming_an_optuna_search_continues_its_study(tmp_path):
    import optuna

    search = ["-m", "hparams_search=boston_optuna", "debug=fast", "task.folds=2", "task.retrain=null"]
    first = run_dlbook("train", *search, "hydra.sweeper.n_trials=2", "hydra.sweep.dir=search", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = run_dlbook("train", "-m", f"resume={tmp_path / 'search'}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    study = optuna.load_study(study_name="boston_housing", storage=f"sqlite:///{tmp_path / 'search' / 'optuna.db'}")
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 4
    assert [read(tmp_path / "search" / str(job) / "status.json")["status"] for job in range(4)] == ["completed"] * 4


# The experiment's own defaults (steps_per_execution=32, which divides no epoch here), deterministic, with
# short epochs of small batches (26 a pass, one execution): a commit every few tens of milliseconds, 22 in all.
DEFAULTS = [
    "deterministic=true",
    "task.folds=2",
    "trainer.epochs=8",
    "trainer.batch_size=8",
    "task.retrain.epochs=6",
    "trainer.progress=none",
]


@pytest.fixture(scope="module")
def uninterrupted_defaults(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("uninterrupted_defaults")
    done = run_dlbook("train", *DEFAULTS, "hydra.run.dir=run", cwd=workdir, timeout=300)
    assert done.returncode == 0, done.stderr
    return read(workdir / "run" / "metrics.json")


@pytest.fixture(scope="module")
def killed_in_fold_2(tmp_path_factory) -> Path:
    """A run of DEFAULTS killed (SIGKILL) once the second fold has committed two epochs."""
    workdir = tmp_path_factory.mktemp("killed")
    process = start_dlbook(workdir, "train", *DEFAULTS, "hydra.run.dir=run")
    stop_when_fold_2_has_epochs(process, workdir / "run", 2, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    return workdir / "run"


def _newer_commit(fit_backup: Path) -> tuple[Path, Path]:
    """(the newest complete commit, the folder of a copy of it as the next epoch's commit)."""
    newest = committed_epochs(fit_backup)
    return fit_backup / f"epoch-{newest:05d}", fit_backup / f"epoch-{newest + 1:05d}"


def tear_partial_commit(fit_backup: Path) -> None:
    """Killed while writing the next commit: its hidden folder, half a state file, no marker."""
    complete, newer = _newer_commit(fit_backup)
    partial = fit_backup / f".partial-{newer.name}-4242"
    partial.mkdir()
    state = (complete / "state.npz").read_bytes()
    (partial / "state.npz").write_bytes(state[: len(state) // 2])


def tear_truncated_state(fit_backup: Path) -> None:
    """The next commit in place, but its state file cut in half (its tail never reached the disk)."""
    complete, newer = _newer_commit(fit_backup)
    shutil.copytree(complete, newer)
    marker = json.loads((newer / "commit.json").read_text())
    (newer / "commit.json").write_text(json.dumps({**marker, "epoch": marker["epoch"] + 1}))
    state = (newer / "state.npz").read_bytes()
    (newer / "state.npz").write_bytes(state[: len(state) // 2])


def tear_missing_marker(fit_backup: Path) -> None:
    """The next epoch's weights without the marker that says which epoch and position they belong to."""
    complete, newer = _newer_commit(fit_backup)
    shutil.copytree(complete, newer)
    (newer / "commit.json").unlink()


@pytest.mark.slow
@pytest.mark.parametrize(
    "tear",
    [tear_partial_commit, tear_truncated_state, tear_missing_marker],
    ids=lambda tear: tear.__name__.removeprefix("tear_"),
)
def test_a_torn_backup_is_moved_aside_and_the_run_resumes_to_the_same_metrics(
    tmp_path, killed_in_fold_2, uninterrupted_defaults, tear
):
    run = tmp_path / "run"
    shutil.copytree(killed_in_fold_2, run)
    fit_backup = run / "checkpoints" / "backup" / "02_fold_2"
    complete = committed_epochs(fit_backup)
    tear(fit_backup)

    resumed = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    log = (run / "train.log").read_text()
    assert "is torn" in log and "moved aside" in log and "Traceback" not in resumed.stderr
    assert f"fold_2: resuming after epoch {complete} of 8" in log
    assert read(run / "metrics.json") == uninterrupted_defaults


def _backup_entries(run: Path) -> set[str]:
    """The commits and partial commits under a run's backup folder (what a save changes)."""
    if not (run / "checkpoints" / "backup").is_dir():
        return set()
    return {
        f"{fit.name}/{entry.name}"
        for fit in (run / "checkpoints" / "backup").glob("*")
        for entry in fit.glob("*")
        if entry.name != "torn"
    } | {fit.name for fit in (run / "checkpoints" / "backup").glob("*")}


def _saving(run: Path) -> bool:
    return any(".partial-" in entry for entry in _backup_entries(run))


@pytest.mark.slow
def test_a_storm_of_kills_at_random_moments_resumes_to_the_same_metrics(tmp_path, uninterrupted_defaults):
    """10 SIGKILLs at seeded random moments of one run, each followed by `dlbook train resume=`."""
    rng = random.Random(15)
    run = tmp_path / "run"
    arguments = ["train", *DEFAULTS, "hydra.run.dir=run"]
    kills = during_saves = 0
    for _ in range(10):
        before = _backup_entries(run)
        process = start_dlbook(tmp_path, *arguments)
        arguments = ["train", "resume=run"]
        deadline = time.time() + 120
        # Once this process has touched the backup (it restored or trained), kill it: half the time as soon
        # as a save is under way, half the time at a random moment of the next 50 ms (which lands in
        # training, in evaluation or in a save), so that each process makes little progress.
        while process.poll() is None and time.time() < deadline and _backup_entries(run) == before:
            time.sleep(0.001)
        if rng.random() < 0.5:
            while process.poll() is None and time.time() < deadline and not _saving(run):
                time.sleep(0.0005)
        else:
            time.sleep(rng.uniform(0, 0.05))
        if process.poll() is not None:
            break  # it finished before the kill
        process.kill()
        process.wait(timeout=60)
        kills += 1
        during_saves += _saving(run)
    print(f"kill storm: {kills} SIGKILLs, {during_saves} of them while a backup commit was being written")
    assert kills == 10 and during_saves >= 1
    assert read(run / "status.json")["status"] == "running"

    resumed = run_dlbook("train", "resume=run", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert read(run / "metrics.json") == uninterrupted_defaults


IN_PROCESS = [
    "deterministic=true",
    "task.folds=2",
    "trainer.epochs=3",
    "trainer.batch_size=8",
    "task.retrain.epochs=2",
    "callbacks=none",
    "trainer.progress=none",
]


def train_in(run: Path, *overrides: str) -> None:
    """The real train(), in this process, for Boston with IN_PROCESS and ``overrides``, in ``run``."""
    from composing import compose_train_config
    from hydra.core.hydra_config import HydraConfig

    from dlbook.commands.train import train

    cfg = compose_train_config(*IN_PROCESS, *overrides, f"paths.run_dir={run}")
    HydraConfig.instance().set_config(cfg)
    try:
        train(cfg)
    finally:
        HydraConfig.instance().cfg = None


def fail_backup_write(monkeypatch, number: int, error: BaseException) -> None:
    """Make the ``number``-th backup state file written from now on fail half-written with ``error``."""
    import dlbook.run.backup

    real_write = dlbook.run.backup._write_state
    writes = []

    def failing(path, arrays):
        writes.append(path)
        real_write(path, arrays)
        if len(writes) == number:
            path.write_bytes(path.read_bytes()[:64])  # what fitted
            raise error

    monkeypatch.setattr(dlbook.run.backup, "_write_state", failing)


def test_a_full_disk_while_saving_a_backup_fails_the_run_and_it_resumes_once_space_is_back(tmp_path, monkeypatch):
    """The 5th backup commit (fold 2, epoch 2) fails half-written with ENOSPC; resumed once space is back,
    the run ends with the metrics of a run that never hit a full disk."""
    import errno

    train_in(tmp_path / "reference")
    run = tmp_path / "run"
    fail_backup_write(monkeypatch, 5, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(SystemExit) as exit_info:
        train_in(run)
    assert exit_info.value.code == 2
    status = read(run / "status.json")
    assert status["status"] == "failed" and "The disk is full: writing" in status["error"]["message"]
    fold_2 = run / "checkpoints" / "backup" / "02_fold_2"
    assert [entry.name for entry in fold_2.iterdir()] == ["epoch-00001"]  # the previous commit, whole

    monkeypatch.undo()  # space is back
    train_in(run, f"resume={run}")
    assert read(run / "status.json")["status"] == "completed"
    assert read(run / "metrics.json") == read(tmp_path / "reference" / "metrics.json")


def test_a_fit_that_stopped_early_is_not_trained_on_when_its_run_resumes(tmp_path, monkeypatch, caplog):
    """Early stopping ends fold 1 after its 2nd epoch (its best weights restored); the run dies in fold 2.
    Resumed, fold 1 stays as it ended instead of training its 3rd epoch."""
    import csv
    import logging

    stopper = "callbacks.early_stopping"
    early = ["callbacks=early_stopping", f"{stopper}.patience=0", f"{stopper}.min_delta=1e9"]
    train_in(tmp_path / "reference", *early)
    with open(tmp_path / "reference" / "history.csv", newline="") as file:
        assert [row["phase"] for row in csv.DictReader(file)].count("fold_1") == 2  # it did stop early
    run = tmp_path / "run"
    # Fold 1 commits epochs 1 and 2, then itself as finished; the run dies saving fold 2's first epoch.
    fail_backup_write(monkeypatch, 4, KeyboardInterrupt())
    with pytest.raises((SystemExit, KeyboardInterrupt)):
        train_in(run, *early)
    assert read(run / "status.json")["status"] != "completed"
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="dlbook"):
        train_in(run, *early, f"resume={run}")
    assert "fold_1: resuming after epoch 3 of 3" in caplog.text
    assert "fold_2: resuming" not in caplog.text
    assert read(run / "metrics.json") == read(tmp_path / "reference" / "metrics.json")
