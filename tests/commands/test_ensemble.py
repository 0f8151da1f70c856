"""Ensembles of finished runs (book 7.3.3): weighted average of predictions, checks, metrics file.

The fixture: four classes whose inputs are their one-hot codes, and two hand-made runs that each
know half of the classes (and point confidently at a wrong class for the other half). Each member
is right on half the test examples; their average is right on all of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from dlbook.commands.ensemble import ensemble
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError
from dlbook.results.ensemble import check_weights, run_ensemble

CLASSES = 4


def halves(count: int = 40, seed: int = 0, cache_dir: str | None = None) -> DataSplits:
    """The fixture dataset (the `_target_` of the fake runs' dataset config)."""
    targets = np.random.default_rng(seed).permutation(np.arange(count) % CLASSES)
    examples = Examples(np.eye(CLASSES, dtype="float32")[targets], targets.astype("int64"))
    return DataSplits(train=examples, test=examples, input_shape=(CLASSES,), source=f"{count} one-hot codes")


def _write_run(run_dir, known: list[int], wrong_guess: int, dataset: dict | None = None, units: int = CLASSES):
    """A completed run whose softmax layer knows the classes ``known`` and guesses ``wrong_guess`` otherwise."""
    import keras

    kernel = np.zeros((CLASSES, units), dtype="float32")
    for klass in range(CLASSES):
        if klass in known:
            kernel[klass, klass] = 3.0
        else:
            kernel[klass, wrong_guess % units] = 1.0
    model = keras.Sequential([keras.Input(shape=(CLASSES,)), keras.layers.Dense(units, activation="softmax")])
    model.layers[-1].set_weights([kernel, np.zeros(units, dtype="float32")])
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    config = {
        "seed": 0,
        "deterministic": False,
        "dataset": dataset or {"_target_": "test_ensemble.halves", "count": 40, "cache_dir": None},
        "trainer": {
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "eval_batch_size": 16,
            "max_steps": None,
        },
    }
    (run_dir / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(config), run_dir / ".hydra" / "config.yaml")
    return str(run_dir)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    first = _write_run(root / "first", known=[0, 1], wrong_guess=0)
    second = _write_run(root / "second", known=[2, 3], wrong_guess=3)
    return first, second


def test_the_average_of_two_half_experts_beats_both(two_runs, tmp_path, capsys):
    cfg = OmegaConf.create(
        {"runs": list(two_runs), "weights": None, "batch_size": None, "paths": {"run_dir": str(tmp_path)}}
    )
    result = ensemble(cfg)

    written = json.loads((tmp_path / "ensemble_metrics.json").read_text())
    assert written["weights"] == [0.5, 0.5]
    assert set(written["members"]) == set(two_runs)
    member_accuracies = [written["members"][run]["accuracy"] for run in two_runs]
    assert member_accuracies == pytest.approx([0.5, 0.5])
    assert written["ensemble"]["accuracy"] == pytest.approx(1.0)
    assert written["ensemble"]["accuracy"] >= min(member_accuracies)
    assert written["ensemble"]["loss"] < min(written["members"][run]["loss"] for run in two_runs)
    assert result["ensemble"] == written["ensemble"]
    printed = capsys.readouterr().out
    assert "ensemble" in printed and "accuracy" in printed and "1.0000" in printed


def test_members_are_scored_as_keras_evaluates_them(two_runs):
    import keras

    result = run_ensemble(list(two_runs))
    model = keras.saving.load_model(f"{two_runs[0]}/model.keras")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = halves()
    expected = model.evaluate(data.test.features, data.test.targets, return_dict=True, verbose=0)
    assert result["members"][two_runs[0]] == pytest.approx(expected, rel=1e-5)


def test_a_weight_of_zero_leaves_only_the_other_member(two_runs):
    result = run_ensemble(list(two_runs), weights=[3, 0])
    assert result["weights"] == [1.0, 0.0]
    assert result["ensemble"] == pytest.approx(result["members"][two_runs[0]], rel=1e-6)


def test_runs_trained_on_different_datasets_are_refused_naming_the_key(two_runs, tmp_path):
    other = _write_run(
        tmp_path / "other",
        known=[0, 1],
        wrong_guess=0,
        dataset={"_target_": "test_ensemble.halves", "count": 44, "cache_dir": "/elsewhere"},
    )
    with pytest.raises(ConfigError) as error:
        run_ensemble([two_runs[0], other])
    message = str(error.value)
    assert "dataset.count" in message and "40" in message and "44" in message
    assert "cache_dir" not in message


def test_a_different_cache_dir_alone_is_no_difference(two_runs, tmp_path):
    other = _write_run(
        tmp_path / "cached",
        known=[2, 3],
        wrong_guess=3,
        dataset={"_target_": "test_ensemble.halves", "count": 40, "cache_dir": "/elsewhere"},
    )
    assert run_ensemble([two_runs[0], other])["ensemble"]["accuracy"] == pytest.approx(1.0)


def test_runs_with_different_output_shapes_are_refused_naming_both(two_runs, tmp_path):
    three = _write_run(tmp_path / "three", known=[0], wrong_guess=1, units=3)
    with pytest.raises(ConfigError) as error:
        run_ensemble([two_runs[0], three])
    message = str(error.value)
    assert "(None, 4)" in message and "(None, 3)" in message and three in message


def test_a_single_run_or_a_directory_that_is_not_a_run_is_refused(two_runs, tmp_path):
    from dlbook.errors import DlbookError

    with pytest.raises(ConfigError, match="at least two"):
        run_ensemble([two_runs[0]])
    with pytest.raises(DlbookError, match="is not a completed dlbook run"):
        run_ensemble([two_runs[0], str(tmp_path)])


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        ([1.0], "1 weights for 2 runs"),
        ([1.0, -0.5], ">= 0"),
        ([0, 0], "above 0"),
        ("0.5", "a list"),
        ([1, "a"], ">= 0"),
    ],
)
def test_invalid_weights_are_refused(weights, problem):
    with pytest.raises(ConfigError, match=problem):
        check_weights(weights, 2)


def test_weights_are_normalized_and_default_to_equal():
    assert check_weights(None, 4) == [0.25] * 4
    assert check_weights([5, 2.5, 1, 1.5], 4) == pytest.approx([0.5, 0.25, 0.1, 0.15])
    assert check_weights(OmegaConf.create([1, 1]), 2) == [0.5, 0.5]
