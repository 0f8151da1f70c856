"""TensorBoard HParams: every completed run writes its overrides and final metrics into <run>/tensorboard/."""

from __future__ import annotations

import logging

import pytest
from cli_runner import read, run_dirs, run_dlbook
from omegaconf import OmegaConf

from dlbook.results.hparams import FINAL_PREFIX, flat_metrics, parse_overrides, run_hyperparameters, write_run_hparams


def read_hparams(run_dir):
    """(hyperparameters, trial id, session status, {metric: value}) read back from <run_dir>/tensorboard's events."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import api_pb2, metadata

    # The root folder only: EventAccumulator does not descend into the per-fit folders.
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    content = events.PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    hyperparameters = {}
    for key, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        hyperparameters[key] = getattr(value, kind)
    scalars = {
        tag.removeprefix(FINAL_PREFIX): float(tf.make_ndarray(events.Tensors(tag)[-1].tensor_proto))
        for tag in events.Tags()["tensors"]
        if tag.startswith(FINAL_PREFIX)
    }
    return hyperparameters, start.group_name, api_pb2.Status.Name(end.status), scalars


def assert_metrics_match(scalars, metrics):
    expected = flat_metrics(metrics)
    assert set(scalars) == set(expected)
    for key, value in expected.items():
        assert scalars[key] == pytest.approx(value, rel=1e-6), key  # float32 in the event file


def test_a_run_writes_its_hparams_and_final_metrics(tmp_path):
    result = run_dlbook("train", "debug=fast", "seed=3", "task.folds=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    hyperparameters, trial, status, scalars = read_hparams(run_dir)
    assert hyperparameters == {
        "debug": "fast",
        "seed": 3.0,
        "task.folds": 2.0,
        "experiment": "boston_housing",
        "verdict": "not comparable",  # a debug run: the book comparison, as a column
    }
    assert trial == f"debug=fast seed=3 task.folds=2 · {run_dir.name}"
    assert status == "STATUS_SUCCESS"

    metrics = read(run_dir / "metrics.json")
    assert_metrics_match(scalars, metrics)
    assert scalars["test.mae"] == pytest.approx(metrics["test"]["mae"], rel=1e-6)
    assert scalars["kfold.val_mae_mean"] == pytest.approx(metrics["kfold"]["val_mae_mean"], rel=1e-6)
    # A debug run is "not comparable" (text, no scalar); where its number fell is still a scalar.
    assert metrics["reference"]["reproduced"] == "not comparable" and "reference.reproduced" not in scalars
    assert scalars["reference.in_band"] == float(metrics["reference"]["in_band"])
    # Keras' per-fit folders are still there, beside the HParams session.
    assert (run_dir / "tensorboard" / "fold_1").is_dir()


def test_a_sweep_shows_the_swept_key_for_every_job(tmp_path):
    result = run_dlbook("train", "-m", "debug=fast", "task.folds=2", "model.units=8,16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    jobs = sorted(path.parent for path in sweep_dir.rglob("metrics.json"))
    assert len(jobs) == 2
    units, trials = [], []
    for job in jobs:
        hyperparameters, trial, status, scalars = read_hparams(job)
        assert hyperparameters["experiment"] == "boston_housing" and hyperparameters["seed"] == 0
        assert not any(key.startswith("hydra") for key in hyperparameters)
        units.append(hyperparameters["model.units"])
        trials.append(trial)
        # The job number and its overrides first (what the table shows), then the sweep's folder.
        assert trial == f"#{job.name} debug=fast task.folds=2 model.units={units[-1]:g} · {sweep_dir.name}"
        assert status == "STATUS_SUCCESS"
        assert_metrics_match(scalars, read(job / "metrics.json"))
    assert sorted(units) == [8.0, 16.0]
    assert len(set(trials)) == 2


def test_a_failure_to_write_hparams_leaves_the_run_completed(tmp_path):
    # A file where the tensorboard folder should be: the HParams cannot be written, the run still completes.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "tensorboard").write_text("not a folder")
    result = run_dlbook(
        "train", "debug=fast", "task.folds=2", "callbacks=none", f"hydra.run.dir={run_dir}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert read(run_dir / "status.json")["status"] == "completed"
    assert "TensorBoard HParams were not written" in (run_dir / "train.log").read_text()


def test_write_run_hparams_logs_a_warning_instead_of_raising(tmp_path, caplog):
    cfg = OmegaConf.create({"name": "custom", "seed": 0, "paths": {"output_dir": str(tmp_path)}})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "tensorboard").write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        assert write_run_hparams(cfg, run_dir, {"test": {"accuracy": 0.5}}) is None
    assert "TensorBoard HParams were not written" in caplog.text


def test_overrides_become_typed_hparams_without_hydras_own_keys():
    overrides = [
        "seed=3",
        "optimizer.learning_rate=3e-4",
        "deterministic=true",
        "optimizer=adam",
        "callbacks=[default,early_stopping]",
        "+trainer.extra=null",
        "~trainer.phases",
        "hydra.launcher.gpus_per_job=2",
        "hydra/launcher=basic",
    ]
    assert parse_overrides(overrides) == {
        "seed": 3,
        "optimizer.learning_rate": 3e-4,
        "deterministic": True,
        "optimizer": "adam",
        "callbacks": "[default,early_stopping]",
        "trainer.extra": "null",
    }
    cfg = OmegaConf.create({"name": "imdb", "seed": 3})
    assert run_hyperparameters(cfg, ["model.units=32"]) == {"model.units": 32, "experiment": "imdb", "seed": 3}


def test_flat_metrics_keeps_the_numbers():
    metrics = {
        "data": "bundled",
        "test": {"accuracy": 0.88, "loss": 0.3},
        "kfold": {"val_mae": [2.1, 2.4], "val_mae_mean": 2.25},
        "reference": {"metric": "test.accuracy", "band": [0.85, 0.9], "reproduced": True, "value": 0.88},
        "dream": {"final_loss": None, "octaves": 3},
    }
    assert flat_metrics(metrics) == {
        "test.accuracy": 0.88,
        "test.loss": 0.3,
        "kfold.val_mae_mean": 2.25,
        "reference.reproduced": 1.0,
        "reference.value": 0.88,
        "dream.octaves": 3.0,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    """A POST of JSON to TensorBoard, as its HParams dashboard sends it; the parsed JSON answer."""
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_tensorboard_shows_a_sweep_as_job_numbers_overrides_and_final_metrics(tmp_path):
    """TensorBoard's own HParams API (the routes of tensorboard/plugins/hparams/hparams_plugin.py) on a sweep."""
    import subprocess
    import sys
    import time
    import urllib.error

    from cli_runner import ONE_PROCESS

    sweep_dir = tmp_path / "elsewhere" / "lr_study"  # outside outputs/: trial ids used to be absolute paths
    result = run_dlbook(
        "train",
        "-m",
        "debug=fast",
        "task.folds=2",
        "seed=0,1",
        ONE_PROCESS,
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    port = _free_port()
    tensorboard = [sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep_dir)]
    server = subprocess.Popen(
        [*tensorboard, "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}/data/plugin/hparams"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                experiment = _post(f"{base}/experiment", {"experimentName": ""})
                if experiment.get("hparamInfos"):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "TensorBoard did not answer within 120 s"
            time.sleep(1)
        groups = _post(
            f"{base}/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    hparams = {info["name"]: info for info in experiment["hparamInfos"]}
    assert hparams["seed"]["differs"] is True
    assert hparams["verdict"]["domainDiscrete"] == ["not comparable"]  # the verdict is a column
    metric_columns = {(info["name"].get("group", ""), info["name"]["tag"]) for info in experiment["metricInfos"]}
    # The final metrics (the session's own folder) are columns beside Keras' per-epoch ones (its fit folders).
    assert {("", "final/test.mae"), ("", "final/kfold.val_mae_mean"), ("", "final/reference.in_band")} <= metric_columns
    assert ("fold_1/validation", "epoch_mae") in metric_columns

    rows = {group["name"]: group for group in groups["sessionGroups"]}
    assert sorted(rows) == [
        f"#0 debug=fast task.folds=2 seed=0 · {sweep_dir.name}",
        f"#1 debug=fast task.folds=2 seed=1 · {sweep_dir.name}",
    ]
    for name, group in rows.items():
        job = sweep_dir / name[1]
        metrics = read(job / "metrics.json")
        assert group["hparams"]["verdict"] == "not comparable"
        values = {
            (value["name"].get("group", ""), value["name"]["tag"]): value["value"] for value in group["metricValues"]
        }
        assert values[("", "final/test.mae")] == pytest.approx(metrics["test"]["mae"], rel=1e-6)
