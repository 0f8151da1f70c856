"""`strategy=default` and `strategy=mirrored`: one device, or a model mirrored over several.

Without GPUs, the mirrored runs split the CPU into two logical devices. TensorFlow fixes its devices
once per process, so those runs happen in a subprocess: a small harness splits the CPU, records the
kind of every model's and optimizer's variables after each fit, then runs the real `dlbook` command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest
from cli_runner import read, run_dirs, run_dlbook
from omegaconf import OmegaConf

from dlbook.errors import ConfigError
from dlbook.run.strategy import check_replica_settings

HARNESS = textwrap.dedent(
    """
    import json
    import sys

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from dlbook.run.trainer import Trainer

    fit = Trainer.fit


    def kinds(variables):
        return sorted({type(getattr(variable, "value", variable)).__name__ for variable in variables})


    def recording_fit(self, model, phase, *arguments, **keywords):
        history = fit(self, model, phase, *arguments, **keywords)
        record = {
            "phase": phase,
            "model": kinds(model.weights),
            "optimizer": kinds(model.optimizer.variables),
            "strategy": type(model.distribute_strategy).__name__,
        }
        with open("fits.jsonl", "a") as file:
            file.write(json.dumps(record) + "\\n")
        return history


    Trainer.fit = recording_fit

    from dlbook.cli import main

    sys.exit(main(sys.argv[1:]))
    """
)


def run_on_two_cpus(*arguments: str, cwd):
    """`dlbook <arguments>` in a subprocess whose CPU is split into two logical devices."""
    harness = cwd / "two_cpus.py"
    harness.write_text(HARNESS)
    environment = dict(os.environ, KERAS_HOME=str(cwd / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, str(harness), *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mirrored_run_trains_two_replicas_with_mirrored_variables(tmp_path):
    # Boston's k-fold (a fresh model per fold) and retrain: every model of the run is built in the scope.
    result = run_on_two_cpus(
        "train",
        "debug=fast",
        "task.folds=2",
        "strategy=mirrored",
        "trainer.steps_per_execution=1",
        "trainer.batch_size=4",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run_dir / "status.json")["status"] == "completed"
    strategy = read(run_dir / "provenance.json")["strategy"]
    assert strategy["name"] == "mirrored" and strategy["replicas"] == 2
    assert [device.rsplit("/", 1)[-1] for device in strategy["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert "strategy mirrored: 2 replica(s)" in (run_dir / "train.log").read_text()

    fits = [json.loads(line) for line in (tmp_path / "fits.jsonl").read_text().splitlines()]
    assert [fit["phase"] for fit in fits] == ["fold_1", "fold_2", "retrain"]
    for fit in fits:
        assert fit == {**fit, "model": ["MirroredVariable"], "optimizer": ["MirroredVariable"]}
        assert fit["strategy"] == "MirroredStrategy"
    assert "test" in read(run_dir / "metrics.json")


def test_mirrored_refuses_several_steps_per_execution_with_a_clear_error(tmp_path):
    # Boston housing's experiment sets trainer.steps_per_execution=32, which Keras cannot mirror.
    result = run_on_two_cpus("train", "debug=fast", "strategy=mirrored", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "dlbook: error: trainer.steps_per_execution=32 is not valid with 2 replicas" in result.stderr
    assert "Traceback" not in result.stderr
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(run_dir / "status.json")["status"] == "failed"


def test_mirrored_devices_must_exist(tmp_path):
    result = run_on_two_cpus(
        "train", "debug=fast", "strategy=mirrored", "strategy.devices=[/cpu:0,/cpu:5]", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "strategy.devices: '/cpu:5' is not a device of this machine" in result.stderr
    assert "/device:CPU:1" in result.stderr  # the devices it could use


def test_default_strategy_changes_nothing(tmp_path):
    # The same seed gives the same metrics on CPU: with the default strategy as with no strategy at all.
    default = run_dlbook("train", "debug=fast", "task.folds=2", cwd=tmp_path)
    without = run_dlbook("train", "debug=fast", "task.folds=2", "~strategy", cwd=tmp_path)
    assert default.returncode == 0, default.stderr[-3000:]
    assert without.returncode == 0, without.stderr[-3000:]
    first, second = run_dirs(tmp_path / "outputs", "boston_housing")
    assert read(first / "metrics.json") == read(second / "metrics.json")
    for run_dir in (first, second):
        strategy = read(run_dir / "provenance.json")["strategy"]
        assert strategy == {"name": "default", "replicas": 1, "devices": ["/device:CPU:0"]}


def test_an_unknown_strategy_lists_the_options(tmp_path):
    result = run_dlbook("train", "strategy=horovod", cwd=tmp_path)
    assert result.returncode == 2
    assert "strategy=horovod is not valid: there is no config strategy/horovod" in result.stderr
    assert "The options of strategy are: data_parallel, default, mirrored." in result.stderr


def test_mirrored_composes_with_its_options(tmp_path):
    result = run_dlbook("train", "strategy=mirrored", "strategy.devices=[/gpu:0,/gpu:1]", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    strategy = OmegaConf.create(result.stdout).strategy
    assert strategy._target_ == "dlbook.run.strategy.mirrored"
    assert list(strategy.devices) == ["/gpu:0", "/gpu:1"] and strategy.cross_device_ops is None


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"trainer": {"steps_per_execution": 4, "batch_size": 8, "eval_batch_size": 8}}, "trainer.steps_per_execution"),
        ({"trainer": {"steps_per_execution": 1, "batch_size": 1, "eval_batch_size": 8}}, "trainer.batch_size"),
        ({"trainer": {"steps_per_execution": 1, "batch_size": 8, "eval_batch_size": 2}}, "trainer.eval_batch_size"),
        (
            {
                "trainer": {"steps_per_execution": 1, "batch_size": 8, "eval_batch_size": 8},
                "task": {"retrain": {"batch_size": 3}},
            },
            "task.retrain.batch_size",
        ),
    ],
)
def test_replica_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_replica_settings(OmegaConf.create(settings), replicas=4)


def test_replica_settings_accept_batches_of_at_least_one_example_per_replica():
    settings = {
        "trainer": {"steps_per_execution": 1, "batch_size": 4, "eval_batch_size": 512},
        "task": {"retrain": None},
    }
    check_replica_settings(OmegaConf.create(settings), replicas=4)


JAX = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
TWO_JAX_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
BATCH_16 = ["trainer.batch_size=16", "task.retrain.batch_size=16"]


@JAX
def test_data_parallel_on_two_jax_devices_trains_as_one_device(tmp_path):
    """JAX's DataParallel splits each batch over 2 (CPU) devices; the updates are those of one device."""
    runs = {}
    for name, strategy in (("two", "strategy=data_parallel"), ("one", "strategy=default")):
        result = run_dlbook(
            "train",
            "backend=jax",
            strategy,
            "debug=fast",
            *BATCH_16,
            f"paths.output_dir={name}",
            cwd=tmp_path,
            env=TWO_JAX_DEVICES,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        (runs[name],) = run_dirs(tmp_path / name, "boston_housing")
    described = read(runs["two"] / "provenance.json")["strategy"]
    assert described == {"name": "data_parallel", "replicas": 2, "devices": ["cpu:0", "cpu:1"]}
    assert read(runs["one"] / "provenance.json")["strategy"]["replicas"] == 1
    two, one = read(runs["two"] / "metrics.json"), read(runs["one"] / "metrics.json")
    for split in ("test", "train"):
        assert two[split]["mae"] == pytest.approx(one[split]["mae"], rel=1e-5)


@JAX
def test_data_parallel_refuses_a_batch_smaller_than_its_devices(tmp_path):
    result = run_dlbook(
        "train", "backend=jax", "strategy=data_parallel", "debug=fast", cwd=tmp_path, env=TWO_JAX_DEVICES
    )
    assert result.returncode == 2
    assert "trainer.batch_size=1 is not valid with 2 replicas (strategy=data_parallel)" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_parallel_is_refused_on_tensorflow(tmp_path):
    result = run_dlbook("train", "strategy=data_parallel", "debug=fast", cwd=tmp_path)
    assert result.returncode == 2
    assert "strategy=data_parallel is not valid on backend=tensorflow" in result.stderr
