"""Faults: a NaN loss, a full disk, out of memory, a killed save, two runs in one directory."""

from __future__ import annotations

import errno
import json

import pytest
from cli_runner import read, run_dirs, run_dlbook

from dlbook.errors import DlbookError
from dlbook.run.directory import RunDirectory
from dlbook.run.faults import NonFiniteLoss, ResourceExhausted, explain_exhaustion
from dlbook.run.run_lock import LOCK_FILE


@pytest.mark.slow
def test_a_nan_loss_stops_the_run_at_once_with_its_epoch_and_batch(tmp_path):
    done = run_dlbook(
        "train", "debug=fast", "trainer.max_steps=null", "optimizer.learning_rate=1e30", cwd=tmp_path, timeout=300
    )
    assert done.returncode == 2
    assert "The training loss became" in done.stderr and "optimizer.learning_rate" in done.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    status = read(run / "status.json")
    assert status["status"] == "failed"
    error = status["error"]
    assert error["type"] == "NonFiniteLoss" and error["fit"] == "fold_1"
    assert error["epoch"] == 1 and error["batch"] >= 1
    assert not (run / "metrics.json").exists()


def test_the_nan_guard_names_fit_epoch_and_batch():
    from dlbook.run.faults import nan_guard

    guard = nan_guard("fold_2")
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"loss": 0.5})
    with pytest.raises(NonFiniteLoss, match=r"became inf at epoch 3, batch 8 of the fit 'fold_2'") as caught:
        guard.on_train_batch_end(7, {"loss": float("inf")})
    assert (caught.value.fit, caught.value.epoch, caught.value.batch) == ("fold_2", 3, 8)


def test_a_full_disk_or_no_memory_is_named_clearly(tmp_path):
    full = explain_exhaustion(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "history.csv")), "run")
    assert isinstance(full, ResourceExhausted)
    assert f"The disk is full: writing {tmp_path / 'history.csv'} failed" in str(full)
    assert "paths.output_dir" in str(full)
    memory = explain_exhaustion(MemoryError(), "outputs/imdb/x")
    assert "ran out of memory (RAM) during the run in outputs/imdb/x" in str(memory)

    # TensorFlow's own out-of-memory error, as a fit on a GPU raises it.
    import tensorflow as tf

    oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[512,10000]")
    device = explain_exhaustion(oom, "run")
    assert isinstance(device, ResourceExhausted)
    assert "A device ran out of memory" in str(device) and "shape[512,10000]" in str(device)
    assert "trainer.batch_size" in str(device)

    class ResourceExhaustedError(Exception):  # only the name of TensorFlow's error: not a device out of memory
        pass

    assert explain_exhaustion(ResourceExhaustedError("OOM"), "run") is None
    assert explain_exhaustion(ValueError("x"), "run") is None


def test_a_run_that_fills_the_disk_is_failed_and_earlier_runs_stay(tmp_path, monkeypatch):
    """The real train(), with writing history.csv failing as on a full disk."""
    from composing import compose_train_config
    from hydra.core.hydra_config import HydraConfig

    import dlbook.run.directory
    from dlbook.commands.train import train

    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "status.json").write_text('{"status": "completed"}')
    cfg = compose_train_config("debug=fast", "callbacks=none", f"paths.run_dir={tmp_path / 'run'}")
    HydraConfig.instance().set_config(cfg)

    def full_disk(self, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.file("history.csv")))

    monkeypatch.setattr(dlbook.run.directory.RunDirectory, "write_history", full_disk)
    try:
        with pytest.raises(SystemExit) as exit_info:
            train(cfg)
    finally:
        HydraConfig.instance().cfg = None
    assert exit_info.value.code == 2
    status = read(tmp_path / "run" / "status.json")
    assert status["status"] == "failed" and status["error"]["type"] == "ResourceExhausted"
    assert "The disk is full: writing" in status["error"]["message"]
    assert (earlier / "status.json").read_text() == '{"status": "completed"}'


def test_a_run_directory_is_claimed_by_one_run_only(tmp_path):
    first = RunDirectory(tmp_path / "run")
    first.start("boston_housing")
    with pytest.raises(DlbookError, match="already holds a run"):
        RunDirectory(tmp_path / "run").start("imdb")
    assert read(tmp_path / "run" / "status.json")["experiment"] == "boston_housing"
    left = [path.name for path in (tmp_path / "run").iterdir() if path.name != LOCK_FILE]  # the run's own lock
    assert left == ["status.json"]  # no claim file left over


def test_a_model_save_that_dies_leaves_the_previous_model_whole(tmp_path):
    from dlbook.commands.train import save_model

    class Model:
        def __init__(self, payload: bytes, fail: bool = False) -> None:
            self.payload, self.fail = payload, fail

        def save(self, path):
            with open(path, "wb") as file:
                file.write(self.payload[: len(self.payload) // 2])
                if self.fail:
                    raise KeyboardInterrupt  # the process stopped half-way through writing
                file.write(self.payload[len(self.payload) // 2 :])

    target = tmp_path / "model.keras"
    save_model(Model(b"first model"), target)
    assert target.read_bytes() == b"first model"
    with pytest.raises(KeyboardInterrupt):
        save_model(Model(b"second model", fail=True), target)
    assert target.read_bytes() == b"first model"


def test_metrics_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import dlbook.run.directory

    run = RunDirectory(tmp_path)
    run.start("x")
    run.complete("x", {"test": {"accuracy": 0.5}})

    def dies(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(dlbook.run.directory.os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        dlbook.run.directory.write_json(tmp_path / "metrics.json", {"test": {"accuracy": 0.9}})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"test": {"accuracy": 0.5}}


def test_ctrl_c_or_sigterm_wait_for_the_fit_to_reach_a_safe_point():
    import os
    import signal

    from dlbook.run.faults import STOP_REQUESTS, RunInterrupted, graceful_interrupts, nan_guard

    with graceful_interrupts():
        with pytest.raises(RunInterrupted, match="SIGINT"):  # outside a fit: at once
            os.kill(os.getpid(), signal.SIGINT)
        guard = nan_guard("fit")
        guard.on_train_begin()
        os.kill(os.getpid(), signal.SIGTERM)  # inside a fit: recorded, nothing raised yet
        assert STOP_REQUESTS.signal_name == "SIGTERM"
        with pytest.raises(RunInterrupted, match="SIGTERM"):
            guard.on_train_batch_end(4, {"loss": 0.3})  # the next batch boundary
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back


def test_a_nan_failure_keeps_its_details_across_processes():
    """Sweep jobs hand their error back to the launcher by pickling (it once failed to unpickle)."""
    import pickle

    error = NonFiniteLoss("loss became nan", fit="fold_1", epoch=2, batch=5)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.fit, copy.epoch, copy.batch) == ("loss became nan", "fold_1", 2, 5)
