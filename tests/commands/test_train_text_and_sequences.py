"""Chapter 6 experiments end to end: one `dlbook train -m` sweep per data family, with debug=fast."""

from __future__ import annotations

import numpy as np
import pytest
from cli_runner import ONE_PROCESS, run_dlbook, sweep_results
from fake_text import SMALL_JENA, write_aclimdb, write_glove, write_jena_csv
from fakes import write_imdb_npz

IMDB_SEQUENCE_EXPERIMENTS = [
    "imdb_embedding",
    "imdb_simplernn",
    "imdb_lstm",
    "imdb_lstm_reversed",
    "imdb_lstm_bidirectional",
    "imdb_conv1d",
]
JENA_EXPERIMENTS = [
    "jena_baseline",
    "jena_dense",
    "jena_gru",
    "jena_gru_dropout",
    "jena_gru_stacked",
    "jena_gru_reversed",
    "jena_gru_bidirectional",
    "jena_conv1d",
    "jena_conv_gru",
]


def test_imdb_sequence_experiments(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=400, n_test=100)
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        f"experiment={','.join(IMDB_SEQUENCE_EXPERIMENTS)}",
        "debug=fast",
        f"dataset.path={data}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = sweep_results(tmp_path)
    assert set(results) == set(IMDB_SEQUENCE_EXPERIMENTS)
    for experiment, (status, metrics) in results.items():
        assert status == "completed", experiment
        assert {"accuracy", "accuracy_epoch"} <= set(metrics["val"]), experiment
        assert metrics["reference"]["metric"] == "val.accuracy"


def test_jena_experiments_report_mae_normalised_and_in_celsius(tmp_path):
    data = write_jena_csv(tmp_path / "jena_climate_2009_2016.csv", rows=12_000)
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        f"experiment={','.join(JENA_EXPERIMENTS)}",
        "debug=fast",
        f"dataset.path={data}",
        *SMALL_JENA,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = sweep_results(tmp_path)
    assert set(results) == set(JENA_EXPERIMENTS)
    # The temperature's std over the normalisation rows (ddof 0, as the loader): MAE x std is the MAE in °C.
    temperature = np.loadtxt(data, delimiter=",", skiprows=1, usecols=2, max_rows=6000)
    degrees_per_unit = float(temperature.std())
    for experiment, (status, metrics) in results.items():
        assert status == "completed", experiment
        for split in ("val", "test"):
            in_celsius = metrics[split]["loss"] * degrees_per_unit
            assert metrics[split]["loss_celsius"] == pytest.approx(in_celsius, rel=1e-4), (experiment, split)
        assert metrics["reference"]["reproduced"] == "not comparable", experiment  # a smoke run on generated rows
    _, baseline = results["jena_baseline"]
    # No training: the baseline's validation score is its test-style evaluation.
    assert "loss_epoch" not in baseline["val"]


def test_jena_dense_beats_the_common_sense_baseline(tmp_path):
    """Book 6.3's point: a trained model must beat "tomorrow = today" (the last temperature) to be worth it."""
    data = write_jena_csv(tmp_path / "jena_climate_2009_2016.csv", rows=12_000)
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        "experiment=jena_baseline,jena_dense",
        "debug=fast",
        "trainer.max_epochs=4",
        "trainer.max_steps=20",
        f"dataset.path={data}",
        *SMALL_JENA,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = sweep_results(tmp_path)
    baseline, dense = results["jena_baseline"][1]["val"]["loss"], results["jena_dense"][1]["val"]["loss"]
    # 4 hours ahead on a daily cycle the last value is far off (measured: 1.03); 80 steps of the dense model
    # learn the cycle (measured: 0.51). Stated margin: at least 30% below the baseline's validation MAE.
    assert dense < 0.7 * baseline, (dense, baseline)


def test_glove_and_no_glove_on_raw_text(tmp_path):
    aclimdb = write_aclimdb(tmp_path / "text", per_class=30)
    glove = tmp_path / "glove.6B.100d.txt"
    write_glove(glove, ["good", "bad", "movie", "film", "great", "awful", "the"], dimension=100)
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        "experiment=imdb_glove,imdb_no_glove",
        "debug=fast",
        f"dataset.path={aclimdb}",
        "++dataset.training_samples=20",
        "++dataset.validation_samples=20",
        f"++embedding.glove.path={glove}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = sweep_results(tmp_path)
    assert {name: status for name, (status, _) in results.items()} == {
        "imdb_glove": "completed",
        "imdb_no_glove": "completed",
    }
    assert "accuracy" in results["imdb_glove"][1]["test"]
