"""`dlbook train` end to end, in subprocesses: every experiment of chapters 2-3 with debug=fast."""

from __future__ import annotations

import csv

import pytest
from cli_runner import read, run_dirs, run_dlbook
from fakes import write_imdb_npz, write_mnist_npz, write_reuters_npz

RUN_FILES = [
    ".hydra/config.yaml",
    "status.json",
    "metrics.json",
    "history.csv",
    "model.keras",
    "provenance.json",
    "train.log",
    "curves.png",
]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return {
        "imdb": write_imdb_npz(folder / "imdb.npz", n_train=10_600, n_test=300),
        "reuters": write_reuters_npz(folder / "reuters.npz", n=1_600),
        "mnist": write_mnist_npz(folder / "mnist.npz", n_train=600, n_test=200),
    }


@pytest.fixture(scope="module")
def boston_run(tmp_path_factory):
    """The default experiment (no experiment= given), shrunk by debug=fast; shared by several tests."""
    workdir = tmp_path_factory.mktemp("boston")
    result = run_dlbook("train", "debug=fast", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(workdir / "outputs", "boston_housing")
    return workdir, run_dir, result


def _assert_complete_run(run_dir):
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}"
    assert read(run_dir / "status.json")["status"] == "completed"
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))


def test_default_experiment_is_boston_kfold_offline(boston_run):
    _, run_dir, result = boston_run
    _assert_complete_run(run_dir)
    metrics = read(run_dir / "metrics.json")
    assert len(metrics["kfold"]["val_mae"]) == 4
    assert metrics["kfold"]["val_mae_mean"] == pytest.approx(sum(metrics["kfold"]["val_mae"]) / 4)
    assert set(metrics["test"]) == {"loss", "mae"}
    assert metrics["reference"]["metric"] == "test.mae"
    assert metrics["reference"]["book"] == 2.5532
    # debug=fast is a smoke run: never "reproduced" (nor "not reproduced"), and the report says why.
    assert metrics["reference"]["reproduced"] == "not comparable"
    assert metrics["reference"]["reason"].startswith("debug limits (trainer.max_epochs=1, trainer.max_steps=3)")
    assert "(not comparable with the book: debug limits" in result.stdout
    # The report: our numbers beside the book's, and where the run is.
    assert "2.5532" in result.stdout and "kfold.val_mae_mean" in result.stdout
    assert f"Run directory: {run_dir.relative_to(boston_run[0])}" in result.stdout
    # Which data source was used is logged.
    assert "mlxtend" in (run_dir / "train.log").read_text()
    phases = {row["phase"] for row in csv.DictReader(open(run_dir / "history.csv"))}
    assert phases == {"fold_1", "fold_2", "fold_3", "fold_4", "retrain"}
    provenance = read(run_dir / "provenance.json")
    assert provenance["versions"]["keras"].startswith("3.")
    assert provenance["devices"]


@pytest.mark.parametrize(
    ("experiment", "metric_keys"),
    [
        ("imdb", {"loss", "accuracy"}),
        ("reuters", {"loss", "accuracy"}),
        ("mnist_dense", {"loss", "accuracy"}),
        ("mnist_convnet", {"loss", "accuracy"}),
    ],
)
def test_experiment_runs_end_to_end(experiment, metric_keys, data_files, tmp_path):
    dataset = {"imdb": "imdb", "reuters": "reuters", "mnist_dense": "mnist", "mnist_convnet": "mnist"}[experiment]
    result = run_dlbook(
        "train", f"experiment={experiment}", "debug=fast", f"dataset.path={data_files[dataset]}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", experiment)
    _assert_complete_run(run_dir)
    metrics = read(run_dir / "metrics.json")
    assert set(metrics["test"]) == metric_keys
    assert metrics["reference"]["metric"] == "test.accuracy"
    rows = list(csv.DictReader(open(run_dir / "history.csv")))
    phases = [row["phase"] for row in rows]
    assert all(float(row["seconds"]) > 0 for row in rows)
    if experiment.startswith("mnist"):
        assert "val" not in metrics and phases == ["fit"]
    else:
        assert {"accuracy", "loss", "accuracy_epoch", "loss_epoch"} <= set(metrics["val"])
        assert phases == ["fit", "retrain"]


def test_same_seed_gives_same_metrics(boston_run):
    workdir, first_dir, _ = boston_run
    result = run_dlbook("train", "debug=fast", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    second_dir = [path for path in run_dirs(workdir / "outputs", "boston_housing") if path != first_dir][-1]
    assert read(first_dir / "metrics.json") == read(second_dir / "metrics.json")


def test_multirun_sweep_runs_every_job(tmp_path):
    result = run_dlbook("train", "-m", "debug=fast", "model.units=8,16", "callbacks=none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    jobs = sorted(path for path in sweep_dir.iterdir() if path.is_dir() and path.name.isdigit())
    assert [job.name for job in jobs] == ["0", "1"]
    for job, units in zip(jobs, (8, 16), strict=True):
        assert read(job / "status.json")["status"] == "completed"
        assert f"units: {units}" in (job / ".hydra" / "config.yaml").read_text()


def test_tensorboard_has_per_epoch_train_and_validation_scalars(boston_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir, _ = boston_run
    for split, tag in (("train", "epoch_mae"), ("validation", "epoch_mae")):
        accumulator = EventAccumulator(str(run_dir / "tensorboard" / "fold_1" / split))
        accumulator.Reload()
        # Keras writes its scalars as tensor summaries.
        assert tag in accumulator.Tags()["tensors"], accumulator.Tags()
        assert len(accumulator.Tensors(tag)) == 1  # one epoch under debug=fast
