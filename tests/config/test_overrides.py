"""Wrong `key=value` values of any key end in one paragraph with exit status 2, never in a traceback.

The issue's examples run as a user types them; a seeded sample of wrong values for the keys of six
experiments runs in one process (tests/fuzzing.py; `make bench` runs a larger sample).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import read, run_dlbook

from dlbook.config.composition import composition_problem
from dlbook.config.overrides import value_problem

FUZZER = Path(__file__).parents[1] / "fuzzing.py"


@pytest.mark.parametrize(
    ("key", "value", "own", "expected"),
    [
        ("model.units", "abc", 64, "expected an integer like the experiment's own value, e.g. model.units=64"),
        ("model.units", 1e30, 64, "expected an integer"),
        ("model.units", True, 64, "expected an integer"),
        ("optimizer.epsilon", "x", 1e-7, "expected a number"),
        ("model.activation", [], "relu", "expected a string"),
        ("trainer.phases", "abc", [], "expected a list"),
        ("task.retrain", "abc", {"epochs": 80}, "task.retrain is a mapping of settings (epochs)"),
        ("optimizer._target_", 0, "keras.optimizers.RMSprop", "the dotted path of a class or function"),
        ("dataset._target_", None, "dlbook.datasets.boston_housing.load", "the dotted path of a class"),
        ("model._target_", "", "dlbook.models.mlp.build_mlp", "the dotted path of a class"),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_with_the_experiments_own_value(key, value, own, expected):
    assert expected in value_problem(key, value, own)


@pytest.mark.parametrize(
    ("key", "value", "own"),
    [
        ("optimizer.epsilon", 1, 1e-7),  # an integer where a number is expected
        ("model.activation", None, "relu"),  # null: Keras' "none" for many arguments
        ("model.dropout", 0.5, None),  # the experiment sets nothing: anything may go there
        ("optimizer._target_", "keras.optimizers.Adam", "keras.optimizers.RMSprop"),
        ("model.units", "${dataset.classes}", 64),  # an interpolation: known once resolved
    ],
)
def test_a_value_of_the_right_kind_passes(key, value, own):
    assert value_problem(key, value, own) is None


@pytest.mark.parametrize(
    ("arguments", "parts"),
    [
        (["optimizer._target_=0"], ["optimizer._target_=0 is not valid", "optimizer._target_=keras.optimizers."]),
        (["trainer.phases=abc"], ["trainer.phases=abc is not valid", "expected a list"]),
        (["callbacks=true"], ["callbacks=true is not valid", "config group", "tensorboard"]),
        (["callbacks=[1,2]"], ["callbacks=[1,2] is not valid", "config group"]),
        (["model.units=abc"], ["model.units=abc is not valid", "model.units=64"]),
        (["-m", "model.units=8,abc"], ["model.units=abc is not valid", "expected an integer"]),
        # The experiment's own value is an interpolation (filters: ${filters}): compared once resolved.
        (
            ["experiment=residual_block", "model.layers.conv_2.filters=1e30"],
            ["model.layers.conv_2.filters=1e+30 is not valid", "model.layers.conv_2.filters=32"],
        ),
    ],
)
def test_wrong_kinds_are_refused_before_anything_runs(arguments, parts):
    message = composition_problem("train", arguments)
    for part in parts:
        assert part in message, message


def assert_refused(result, *parts: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("dlbook: error: "), result.stderr[-3000:]
    for part in parts:
        assert part in message, message


def statuses(workdir: Path) -> list[str]:
    return [read(path)["status"] for path in (workdir / "outputs").rglob("status.json")]


@pytest.mark.slow
def test_a_loss_keras_does_not_know_names_the_key_and_the_experiments_own_value(tmp_path):
    result = run_dlbook("train", "debug=fast", "trainer.loss=abc", cwd=tmp_path)
    assert_refused(result, "trainer.loss=abc is not valid", "Could not interpret loss identifier", "trainer.loss=mse")
    assert statuses(tmp_path) == ["failed"]
    (log,) = (tmp_path / "outputs").rglob("train.log")
    assert "Traceback" in log.read_text()  # the whole error stays available for a bug report


def test_a_wrong_objective_fails_the_run_before_it_is_marked_completed(tmp_path):
    result = run_dlbook("train", "debug=fast", "objective=[1,2]", cwd=tmp_path)
    assert_refused(result, "objective=[1, 2] is not valid", "objective=test.mae")
    assert statuses(tmp_path) == ["failed"]


def test_a_config_group_given_a_boolean(tmp_path):
    result = run_dlbook("train", "callbacks=true", cwd=tmp_path)
    assert_refused(result, "callbacks=true is not valid: callbacks is a config group", "callbacks.<key>=<value>")
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_seeded_sample_of_wrong_values_never_reaches_a_traceback(tmp_path):
    # 4 random (key, wrong value) pairs of each of six experiments, all in one process (one TensorFlow import).
    out = tmp_path / "fuzz.json"
    done = subprocess.run(
        [sys.executable, str(FUZZER), "--seed", "15", "--per-experiment", "4", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["values_tried"] == 24
    assert result["findings"] == [], json.dumps(result["findings"], indent=2)
    assert result["accepted_exit_0"] + result["refused_exit_2"] == 24


@pytest.mark.parametrize(
    ("error", "blamed"),
    [
        (ValueError("Received an invalid value for argument `units`"), True),
        (TypeError("unexpected keyword argument 'a'"), True),
        (RuntimeError("Job not requeued because: timed-out too many times."), False),  # a scheduler's, not a value's
        (OSError("Input/output error"), False),
    ],
)
def test_only_errors_that_a_wrong_value_raises_are_blamed_on_the_command_line(error, blamed):
    from composing import compose_train_config
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from dlbook.config.overrides import blame_overrides
    from dlbook.config.resources import conf_dir

    cfg = compose_train_config("debug=fast", "model.units=-1")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):  # as inside a run
        HydraConfig.instance().set_config(cfg)
        try:
            found = blame_overrides(error, "outputs/run")
        finally:
            HydraConfig.instance().cfg = None
    if blamed:
        assert str(found).startswith("model.units=-1 is not valid: the run failed with ")
        assert "The experiment's own value is model.units=64." in str(found)
    else:
        assert found is None


@pytest.mark.parametrize("value", ["logger=[tensorboard,mlflow]", "callbacks=[default,early_stopping]"])
def test_a_group_given_a_list_of_its_options_is_not_taken_for_a_wrong_value(tmp_path, value):
    result = run_dlbook("train", "debug=fast", value, "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
