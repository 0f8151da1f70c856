"""`dlbook reproduce`: planning (availability without downloads) and a real quick reproduction."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fakes import write_imdb_npz

from dlbook.errors import ConfigError
from dlbook.results.reproduction_plan import check_availability, plan

IMDB_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"

# The Hydra app as `dlbook reproduce` runs it (cli.py wires the same task function and config).
HYDRA_APP = (
    "import sys, hydra; from dlbook.commands.reproduce import reproduce; "
    "from dlbook.config.resources import conf_dir; "
    "sys.argv = ['dlbook reproduce', *sys.argv[1:]]; "
    "hydra.main(version_base='1.3', config_path=str(conf_dir()), config_name='reproduce')(reproduce)()"
)


def test_quick_reproduction_runs_boston_and_lists_imdb_as_unavailable(tmp_path):
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    environment = {**os.environ, "KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            HYDRA_APP,
            "experiments=[boston_housing,imdb]",
            "quick=true",
            f"paths.output_dir={tmp_path / 'outputs'}",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    folders = list((tmp_path / "outputs" / "reproduce").iterdir())
    assert len(folders) == 1
    folder = folders[0]
    report = json.loads((folder / "reproduction.json").read_text())
    assert report["quick"] is True
    boston, imdb = report["rows"]

    assert boston["experiment"] == "boston_housing"
    assert boston["status"] == "completed"
    assert boston["book"] == 2.5532
    assert boston["metric"] == "test.mae"
    assert isinstance(boston["value"], float)
    assert boston["reproduced"] == "not comparable"  # a quick run is never judged against the book
    assert boston["reason"].startswith("debug limits (trainer.max_epochs=1, trainer.max_steps=3)")
    assert boston["wall_s"] > 0
    assert "mlxtend" in boston["data"]
    assert "debug=fast" in boston["command"]
    assert (folder / boston["run"] / "status.json").is_file()
    assert (folder / boston["curves"]).is_file()
    assert (folder / "logs" / "boston_housing.log").is_file()

    assert imdb["experiment"] == "imdb"
    assert imdb["status"].startswith("data not available")
    assert IMDB_ORIGIN in imdb["status"]
    assert "dlbook train experiment=imdb" in imdb["status"]
    assert imdb["run"] is None and imdb["value"] is None
    assert not (keras_home / "datasets" / "imdb.npz").exists()  # nothing was downloaded

    markdown = (folder / "reproduction.md").read_text()
    assert "Quick mode: on" in markdown and "NOT comparable" in markdown
    assert "| boston_housing | 3.7 " in markdown
    assert "2.5532" in markdown
    assert "| not comparable (debug limits (trainer.max_epochs=1, trainer.max_steps=3)" in markdown  # and why
    assert f"[curves.png]({boston['curves']})" in markdown
    assert f"[run]({boston['run']})" in markdown
    assert IMDB_ORIGIN in markdown
    # The table is printed as well.
    assert "boston_housing" in result.stdout and "data not available" in result.stdout


def test_unknown_experiment_is_a_config_error_listing_the_valid_names():
    with pytest.raises(ConfigError, match="unknown experiment.*no_such_experiment") as error:
        plan(["boston_housing", "no_such_experiment"])
    assert "imdb" in str(error.value) and "reuters" in str(error.value)


def test_cached_imdb_file_makes_imdb_available(keras_home):
    assert not plan(["imdb"])[0].available
    (keras_home / "datasets").mkdir(parents=True)
    write_imdb_npz(keras_home / "datasets" / "imdb.npz")
    (item,) = plan(["imdb"], quick=True)
    assert item.available, item.missing
    assert item.overrides == ["debug=fast"]


def test_quick_mode_switches_mnist_to_bundled_data_and_weights_are_checked(keras_home):
    mnist, vgg = plan(["mnist_dense", "vgg16_features"], quick=True)
    assert mnist.available and "dataset.source=bundled" in mnist.overrides
    assert any("weights not available" in problem and "notop.h5" in problem for problem in vgg.missing)
    assert any("Kaggle" in problem for problem in vgg.missing)
    # weights=null needs no ImageNet file; the images are still missing.
    (vgg,) = plan(["vgg16_features"], quick=True, overrides=["weights=null"])
    assert not any("weights" in problem for problem in vgg.missing)


def test_cached_kaggle_split_tree_is_passed_as_dataset_path(keras_home):
    tree = keras_home / "datasets" / "cats_and_dogs_small"
    (tree / "train" / "cats").mkdir(parents=True)
    (item,) = plan(["cats_vs_dogs_scratch"])
    assert item.available, item.missing
    assert f"dataset.path={tree}" in item.overrides


def test_availability_of_a_given_path_needs_no_cache(tmp_path):
    from composing import compose_train_config

    cfg = compose_train_config("experiment=reuters", f"dataset.path={tmp_path / 'reuters.npz'}")
    assert check_availability(cfg) == ([], [])


def test_reproduce_config_composes():
    from hydra import compose, initialize_config_dir

    from dlbook.config.resources import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="reproduce", return_hydra_config=True)
    assert cfg.experiments is None and cfg.quick is False and list(cfg.overrides) == []
    assert cfg.timeout_minutes is None
    assert cfg.hydra.job.name == "reproduce"
    assert "/reproduce/" in cfg.hydra.run.dir
