"""Chapter 5 experiments end to end on generated image folders, with debug=fast and small images."""

from __future__ import annotations

import re

from cli_runner import ONE_PROCESS, read, run_dlbook, sweep_results
from fake_images import write_kaggle_train

END_TO_END_EXPERIMENTS = ["cats_vs_dogs_scratch", "cats_vs_dogs_augmented", "vgg16_augmented", "vgg16_finetune"]
IMAGE_EXPERIMENTS = [*END_TO_END_EXPERIMENTS, "vgg16_features"]


def test_cats_vs_dogs_experiments_from_a_kaggle_style_folder(tmp_path):
    # Kaggle's layout: cat.N.jpg / dog.N.jpg in one folder; the book's split needs numbers 0-1999.
    kaggle = write_kaggle_train(tmp_path / "train", per_class=2000, size=(50, 50))
    # weights=null: random VGG16 weights (no download); 48x48 images, the smallest the 5.2 convnet takes.
    end_to_end = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        f"experiment={','.join(END_TO_END_EXPERIMENTS)}",
        "debug=fast",
        f"dataset.path={kaggle}",
        "++weights=null",
        "++dataset.image_size=[48,48]",
        cwd=tmp_path,
    )
    assert end_to_end.returncode == 0, end_to_end.stderr[-3000:]
    features = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        "experiment=vgg16_features",
        "debug=fast",
        f"dataset.path={kaggle}",
        "weights=null",
        "dataset.images.image_size=[32,32]",
        "dataset.base.input_shape=[32,32,3]",
        cwd=tmp_path,
    )
    assert features.returncode == 0, features.stderr[-3000:]
    results = sweep_results(tmp_path)
    multirun = tmp_path / "outputs" / "multirun"
    assert set(results) == set(IMAGE_EXPERIMENTS)
    for experiment, (status, metrics) in results.items():
        assert status == "completed", experiment
        assert "accuracy" in metrics["val"] and "accuracy" in metrics["test"], experiment
    # debug=fast decodes and featurises only what its 3 batches of 20 can use, of the 1,000-2,000 images a split.
    logs = {read(log.with_name("status.json"))["experiment"]: log.read_text() for log in multirun.rglob("train.log")}
    assert "Features: train: 60 images" in logs["vgg16_features"]
    assert "Features: test: 60 images" in logs["vgg16_features"]
    for experiment in END_TO_END_EXPERIMENTS:
        assert re.search(r"debug limits: train uses (60|96) of its 2000 examples", logs[experiment]), experiment
    # The book's split was built once into the cache, with its exact file ranges.
    split = tmp_path / "keras_home" / "datasets" / "cats_and_dogs_small"
    assert len(list((split / "train" / "cats").iterdir())) == 1000
    assert len(list((split / "validation" / "dogs").iterdir())) == 500
    assert (split / "test" / "cats" / "cat.1500.jpg").exists()
