"""The GPU path of a run, checked on a machine without GPU: the preflight that a job sees the GPU it was
given, the report of what its recurrent layers and XLA will do, and determinism settings that reach XLA."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys

import pytest
from cli_runner import read, run_dirs, run_dlbook

from dlbook.run.runtime import XLA_DETERMINISM_FLAG, deterministic_environment, given_gpus


def test_a_job_given_a_gpu_that_tensorflow_cannot_see_stops_naming_the_fix(tmp_path):
    result = run_dlbook("train", "debug=fast", cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": "0"})
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.split("dlbook: error: ")[-1]
    assert "GPU(s) 0 (CUDA_VISIBLE_DEVICES=0)" in message and "sees no GPU" in message
    assert "pip install 'dlbook[gpu]'" in message and "CUDA_VISIBLE_DEVICES= (empty)" in message
    assert "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    status = read(run / "status.json")
    assert status["status"] == "failed" and status["error"]["type"] == "NoGpuVisible"


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_a_jax_job_given_a_gpu_that_jax_cannot_see_stops_naming_jaxs_cuda_build(tmp_path):
    result = run_dlbook("train", "debug=fast", "backend=jax", cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": "0"})
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.split("dlbook: error: ")[-1]
    assert "but the jax backend sees no GPU" in message and "JAX's CUDA build" in message
    assert "Traceback" not in result.stderr
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run / "status.json")["error"]["type"] == "NoGpuVisible"


def test_given_gpus_reads_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert given_gpus() == ["1", "3"]
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert given_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert given_gpus() == []


def test_provenance_records_the_devices_tensorflow_uses(tmp_path):
    result = run_dlbook("train", "debug=fast", cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = run_dirs(tmp_path / "outputs", "boston_housing")
    in_use = read(run / "provenance.json")["devices_in_use"]
    assert in_use == {"gpus": [], "cpus": ["/device:CPU:0"]}


def test_recurrent_layers_that_fall_back_from_cudnn_are_named_with_the_setting_cudnn_needs(caplog):
    import keras

    from dlbook.run.kernels import log_kernels, recurrent_kernels

    inputs = keras.Input((5, 3))
    x = keras.layers.GRU(4, recurrent_dropout=0.2, return_sequences=True, name="gru")(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True, name="lstm"))(x)
    x = keras.layers.GRU(4, activation="relu", reset_after=False, return_sequences=True, name="gru_relu")(x)
    x = keras.layers.LSTM(4, use_cudnn=False, name="lstm_off")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    lines = recurrent_kernels(model, gpu=True)
    assert "GRU 'gru': generic kernel, cuDNN needs recurrent_dropout=0" in lines
    assert "GRU 'gru_relu': generic kernel, cuDNN needs activation='tanh', reset_after=True" in lines
    assert "LSTM 'lstm_off': generic kernel, cuDNN needs use_cudnn='auto'" in lines
    assert sum(line.endswith("': cuDNN kernel") and line.startswith("LSTM") for line in lines) == 2  # both ways
    model.compile(optimizer="rmsprop", loss="mse", jit_compile=False)
    with caplog.at_level(logging.INFO, logger="dlbook"):
        log_kernels(model, "fit")
    assert "fit: GRU 'gru': generic kernel, cuDNN needs recurrent_dropout=0" in caplog.text
    assert "fit: XLA (trainer.jit_compile): off" in caplog.text


def test_deterministic_runs_make_xla_and_cudnn_deterministic_too():
    environment = {"XLA_FLAGS": "--xla_dump_to=/somewhere"}
    deterministic_environment(environment)
    assert environment["XLA_FLAGS"] == f"--xla_dump_to=/somewhere {XLA_DETERMINISM_FLAG}"
    assert environment["TF_CUDNN_DETERMINISTIC"] == "1"
    deterministic_environment(environment)  # idempotent
    assert environment["XLA_FLAGS"].count("xla_gpu_deterministic_ops") == 1
    # prepare_backend sets them before TensorFlow starts, along with op determinism.
    probe = (
        "import json, os\n"
        "from dlbook.run.runtime import prepare_backend\n"
        "prepare_backend(0, True)\n"
        "from tensorflow.python.framework.config import is_op_determinism_enabled\n"
        "print(json.dumps([os.environ.get('XLA_FLAGS'), is_op_determinism_enabled()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [XLA_DETERMINISM_FLAG, True]
