"""Book 4.4 (overfitting and underfitting): the five IMDB experiments and the sweep that compares them."""

from __future__ import annotations

import csv

import pytest
from cli_runner import ONE_PROCESS, read, run_dlbook
from composing import compose_train_config
from fakes import write_imdb_npz
from hydra.utils import instantiate
from PIL import Image

from dlbook.errors import ConfigError
from dlbook.tasks.holdout import validation_source

EXPERIMENTS = ["imdb_original", "imdb_smaller", "imdb_bigger", "imdb_l2", "imdb_dropout"]
# model.summary() of the book's notebook (Keras 2), 10,000 multi-hot inputs.
PARAMETERS = {
    "imdb_original": 160_305,
    "imdb_smaller": 40_029,
    "imdb_bigger": 5_383_681,
    "imdb_l2": 160_305,
    "imdb_dropout": 160_305,
}


def _reference(cfg, metric):
    entries = [cfg.reference, *cfg.reference.others]
    return next(entry for entry in entries if entry.metric == metric)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_the_books_model_protocol_and_parameter_count(experiment):
    cfg = compose_train_config(f"experiment={experiment}")
    assert cfg.book.section == "4.4"
    assert (cfg.trainer.epochs, cfg.trainer.batch_size, cfg.trainer.loss) == (20, 512, "binary_crossentropy")
    assert cfg.optimizer._target_ == "keras.optimizers.RMSprop"
    assert (cfg.dataset.num_words, cfg.dataset.vectorize) == (10000, "multi_hot")
    # All 25,000 training reviews, validated on the test set, as the book does.
    assert cfg.task.validation.source == "test" and cfg.task.validation.size is None and cfg.task.retrain is None
    model = instantiate(cfg.model)(input_shape=(10000,))
    assert model.count_params() == PARAMETERS[experiment]
    layers = [layer.__class__.__name__ for layer in model.layers]
    if experiment == "imdb_dropout":
        assert layers == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
        assert model.layers[1].rate == 0.5
    else:
        assert layers == ["Dense", "Dense", "Dense"]
    regularized = [
        layer.kernel_regularizer is not None for layer in model.layers if layer.__class__.__name__ == "Dense"
    ]
    assert regularized == ([True, True, False] if experiment == "imdb_l2" else [False, False, False])


def test_reference_bands_encode_the_books_ordering():
    cfgs = {name: compose_train_config(f"experiment={name}") for name in EXPERIMENTS}
    for cfg in cfgs.values():
        assert cfg.reference.metric == "val.loss"
        for entry in [cfg.reference, *cfg.reference.others]:
            low, high = entry.band
            assert low <= entry.book <= high, (cfg.name, entry.metric)
    epoch = {name: _reference(cfg, "val.loss_epoch") for name, cfg in cfgs.items()}
    final = {name: _reference(cfg, "val.final_loss") for name, cfg in cfgs.items()}
    assert epoch["imdb_original"].book == 3 and epoch["imdb_smaller"].book == 6 and epoch["imdb_dropout"].book == 4
    # smaller and dropout reach their lowest loss later than the original; bigger after one or two epochs
    assert epoch["imdb_smaller"].band[0] > epoch["imdb_original"].book
    assert epoch["imdb_dropout"].band[0] > epoch["imdb_original"].book
    assert epoch["imdb_bigger"].band == [1, 2]
    # L2 and dropout resist overfitting: their final loss stays below the original's band
    assert final["imdb_l2"].band[1] < final["imdb_original"].band[0]
    assert final["imdb_dropout"].book < final["imdb_original"].band[0]


def test_validation_on_the_test_split_is_checked():
    assert validation_source({"size": None, "source": "test"}) == "test"
    assert validation_source({"size": 10000}) == "train"
    with pytest.raises(ConfigError, match="task.validation.size=10000 with task.validation.source=test"):
        validation_source({"size": 10000, "source": "test"})
    with pytest.raises(ConfigError, match="task.validation.source='holdout'"):
        validation_source({"size": None, "source": "holdout"})


def test_the_sweep_config_lists_the_five_experiments():
    cfg = compose_train_config("hparams_search=imdb_overfitting")
    assert cfg.hydra.sweeper.params.experiment.split(",") == EXPERIMENTS
    assert "/multirun/imdb_overfitting/" in cfg.hydra.sweep.dir


def test_one_command_runs_the_five_experiments_and_draws_their_validation_losses(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=200, n_test=100)
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        "hparams_search=imdb_overfitting",
        "debug=fast",
        "trainer.max_epochs=2",
        f"dataset.path={data}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "multirun" / "imdb_overfitting").iterdir()
    jobs = {read(job / "status.json")["experiment"]: job for job in sweep.iterdir() if (job / "status.json").exists()}
    assert sorted(jobs) == sorted(EXPERIMENTS)
    for experiment, job in jobs.items():
        assert read(job / "status.json")["status"] == "completed", experiment
        metrics = read(job / "metrics.json")
        assert {"loss", "loss_epoch", "final_loss", "accuracy"} <= set(metrics["val"]), experiment
        assert metrics["reference"]["metric"] == "val.loss" and metrics["reference"]["value"] == metrics["val"]["loss"]
        with open(job / "history.csv", newline="") as file:
            losses = [float(row["val_loss"]) for row in csv.DictReader(file)]
        assert len(losses) == 2 and metrics["val"]["final_loss"] == pytest.approx(losses[-1]), experiment
        assert metrics["val"]["loss_epoch"] == 1 + losses.index(min(losses)), experiment
        # trained on all 200 training reviews, validated on the 100 test reviews
        assert "on 200 examples, validating on 100" in (job / "train.log").read_text(), experiment
    with open(sweep / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["experiment"] for row in rows) == sorted(EXPERIMENTS)
    # the backend each job ran on (with its version) comes first, then what varies, the objective, the epoch time
    assert list(rows[0])[:5] == ["job", "backend", "experiment", "val.loss", "epoch s"]
    assert {row["backend"].split()[0] for row in rows} == {"tensorflow"}
    assert [row["best"] for row in rows].count("yes") == 1
    # val_loss.png names its five lines (in job order) in the PNG's Description text
    labels = Image.open(sweep / "val_loss.png").text["Description"].splitlines()
    assert labels == [f"experiment={name}" for name in EXPERIMENTS]
    assert (sweep / "summary.md").read_text().startswith(f"Sweep imdb_overfitting/{sweep.name}: objective val.loss")
