"""logger=mlflow: each run and each sweep job is one MLflow run, read back here through MLflow's own client."""

from __future__ import annotations

import csv
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cli_runner import read, run_dirs, run_dlbook
from composing import compose_train_config

from dlbook.errors import ConfigError
from dlbook.run.loggers import check_loggers, chosen_loggers

TESTS = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 (a free port) with a SQLite backend store; yields its URI."""
    pytest.importorskip("mlflow")
    port = free_port()
    folder = tmp_path / "server"
    folder.mkdir()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def history_column(run_dir: Path, phase: str, column: str) -> list[float]:
    with open(run_dir / "history.csv", newline="") as file:
        return [float(row[column]) for row in csv.DictReader(file) if row["phase"] == phase]


@pytest.mark.slow
def test_a_sweep_is_one_mlflow_run_per_job_on_a_tracking_server(tmp_path, mlflow_server):
    from mlflow.tracking import MlflowClient

    result = run_dlbook(
        "train",
        "-m",
        "debug=fast",
        "trainer.max_epochs=2",
        "seed=1,2",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={mlflow_server}",
        "tags=[lr-study]",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("boston_housing")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    by_seed = {run.data.params["overrides.seed"]: run for run in runs}
    assert set(by_seed) == {"1", "2"}
    for seed, run in by_seed.items():
        job = sweep / run.data.tags["dlbook.job"]
        assert read(job / "status.json")["status"] == "completed"
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"multirun/boston_housing/{sweep.name}/{job.name}"
        # Params: the overrides and the composed config.
        assert run.data.params["seed"] == seed and run.data.params["trainer.max_epochs"] == "2"
        assert run.data.params["overrides.logger"] == "mlflow" and run.data.params["task.folds"] == "4"
        tags = run.data.tags
        assert tags["dlbook.experiment"] == "boston_housing" and tags["dlbook.book_section"] == "3.7"
        assert tags["dlbook.sweep"] == str(sweep.resolve())
        assert tags["dlbook.backend"].startswith(read(job / "provenance.json")["backend"]["name"])
        assert tags["dlbook.tags"] == "lr-study" and tags["lr-study"] == "true"
        assert tags["dlbook.command"] == read(job / "provenance.json")["command"]
        # Per-epoch metrics with the epoch as their step, as history.csv has them.
        history = client.get_metric_history(run.info.run_id, "fold_1/val_loss")
        assert [point.step for point in history] == [1, 2]
        assert [point.value for point in history] == pytest.approx(history_column(job, "fold_1", "val_loss"))
        assert [point.step for point in client.get_metric_history(run.info.run_id, "retrain/loss")] == [1, 2]
        # The final metrics and the run's files.
        assert run.data.metrics["test.mae"] == pytest.approx(read(job / "metrics.json")["test"]["mae"])
        files = {item.path for item in client.list_artifacts(run.info.run_id)}
        assert {"metrics.json", "history.csv", "curves.png", "config.yaml", "model"} <= files
        assert [item.path for item in client.list_artifacts(run.info.run_id, "model")] == ["model/model.keras"]
        assert not (job / "tensorboard").exists()  # logger=mlflow alone: no TensorBoard logs

    # Rerun exactly: job 0's command from its provenance.json, typed as a single run, gives its metrics again.
    job = sweep / "0"
    command = read(job / "provenance.json")["command"]
    assert command.startswith("dlbook train ") and "worker" not in command
    again = run_dlbook(*shlex.split(command)[1:], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    (single,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(single / "provenance.json")["command"] == command
    assert read(single / "metrics.json")["test"]["mae"] == pytest.approx(read(job / "metrics.json")["test"]["mae"])


@pytest.mark.slow
def test_a_failing_tracking_server_never_fails_the_run(tmp_path):
    pytest.importorskip("mlflow")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_dlbook(
        "train", "debug=fast", "logger=[tensorboard,mlflow]", f"logger.mlflow.tracking_uri={uri}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run_dir / "status.json")["status"] == "completed"
    assert (run_dir / "metrics.json").is_file() and (run_dir / "tensorboard").is_dir()
    log = (run_dir / "train.log").read_text()
    assert f"MLflow tracking at {uri} failed while starting the run" in log
    assert log.count("MLflow tracking at") == 1  # said once, then the run goes on without it


@pytest.mark.slow
def test_the_default_store_is_local_under_outputs_and_tags_reach_every_view(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from results.test_hparams import read_hparams

    result = run_dlbook("train", "debug=fast", "logger=[tensorboard,mlflow]", "tags=[baseline,lr-study]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run_dir / "status.json")["tags"] == ["baseline", "lr-study"]
    hyperparameters, *_ = read_hparams(run_dir)
    assert hyperparameters["tags"] == "baseline,lr-study"
    store = tmp_path / "outputs" / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("boston_housing").experiment_id])
    assert run.data.tags["dlbook.tags"] == "baseline,lr-study" and run.info.status == "FINISHED"
    artifacts = tmp_path / "outputs" / "mlartifacts" / "boston_housing" / run.info.run_id / "artifacts"
    assert (artifacts / "metrics.json").is_file()
    listed = run_dlbook("runs", "tag=lr-study", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("1 run under outputs")
    assert "baseline,lr-study" in listed.stdout and run_dir.name in listed.stdout


def test_without_mlflow_installed_choosing_it_says_how_to_install(tmp_path):
    environment = {"PYTHONPATH": os.pathsep.join([str(TESTS / "without_mlflow"), os.environ.get("PYTHONPATH", "")])}
    result = run_dlbook("train", "debug=fast", "logger=mlflow", cwd=tmp_path, env=environment)
    assert result.returncode == 2
    assert "dlbook: error: logger=mlflow needs the mlflow package" in result.stderr
    assert "pip install 'dlbook[mlflow]'" in result.stderr and "Traceback" not in result.stderr
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run_dir / "status.json")["status"] == "failed"


def test_the_logger_group_chooses_tensorboard_mlflow_or_both(monkeypatch):
    assert chosen_loggers(compose_train_config()) == ["tensorboard"]
    assert chosen_loggers(compose_train_config("logger=mlflow")) == ["mlflow"]
    both = compose_train_config("logger=[tensorboard,mlflow]", "logger.mlflow.tracking_uri=http://127.0.0.1:5000")
    assert chosen_loggers(both) == ["tensorboard", "mlflow"]
    assert both.logger.mlflow.tracking_uri == "http://127.0.0.1:5000"
    monkeypatch.setattr("dlbook.run.mlflow_tracking.mlflow_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'dlbook\[mlflow\]'"):
        check_loggers(both)
    check_loggers(compose_train_config())  # TensorBoard alone needs no MLflow


def test_a_server_failing_mid_run_is_logged_once_and_tracking_stops(caplog):
    pytest.importorskip("mlflow")
    from omegaconf import OmegaConf

    from dlbook.run.mlflow_tracking import MlflowRun

    calls = []

    class FailingClient:
        def log_batch(self, run_id, **items):
            calls.append(items)
            raise ConnectionError("connection refused")

    tracker = MlflowRun(OmegaConf.create({"tracking_uri": "http://127.0.0.1:9"}), "outputs")
    tracker.client, tracker.run_id = FailingClient(), "abc"
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        tracker.log_metrics({"loss": 0.5}, step=1)
        tracker.log_metrics({"loss": 0.4}, step=2)
        tracker.end("FINISHED")
    assert len(calls) == 1 and tracker.broken
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "failed while logging metrics (ConnectionError" in warnings[0]
