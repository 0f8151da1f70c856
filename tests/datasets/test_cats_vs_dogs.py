"""Cats vs dogs loader: both layouts, the book's split, errors that say what to do, the configs."""

import inspect
import os
from pathlib import Path

import numpy as np
import pytest
from fake_images import write_kaggle_train, write_split_tree
from omegaconf import OmegaConf

from dlbook.datasets import cats_vs_dogs
from dlbook.datasets.io import image_folder
from dlbook.datasets.io.image_pipeline import ImagePipeline
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

CONF = Path(__file__).parents[2] / "conf"
SMALL_RANGES = {"train": (0, 6), "validation": (6, 8), "test": (8, 10)}


@pytest.fixture
def small_book_ranges(monkeypatch):
    monkeypatch.setattr(image_folder, "BOOK_RANGES", SMALL_RANGES)


@pytest.fixture(scope="module")
def kaggle_train(tmp_path_factory):
    return write_kaggle_train(tmp_path_factory.mktemp("kaggle") / "train", 10, size=(20, 24))


def test_kaggle_layout_builds_the_split_in_keras_home(kaggle_train, keras_home, small_book_ranges):
    data = cats_vs_dogs.load(path=str(kaggle_train), image_size=[16, 16])

    tree = keras_home / "datasets" / "cats_and_dogs_small"
    assert (tree / "validation" / "dogs" / "dog.7.jpg").is_file()
    assert [len(data.train), len(data.validation), len(data.test)] == [12, 4, 4]
    assert data.train.features[0] == str(tree / "train" / "cats" / "cat.0.jpg")
    np.testing.assert_array_equal(data.validation.targets, [0, 0, 1, 1])
    assert data.train.targets.dtype == np.float32
    assert data.input_shape == (16, 16, 3)
    assert data.info["class_names"] == ["cats", "dogs"]
    assert isinstance(data.make_pipeline, ImagePipeline) and data.encode is None
    assert str(kaggle_train) in data.source

    images, targets = next(iter(data.make_pipeline(data.validation, 4, shuffle=False)))
    assert images.shape == (4, 16, 16, 3) and targets.dtype.name == "float32"


def test_kaggle_layout_with_cache_dir(kaggle_train, tmp_path, small_book_ranges):
    cats_vs_dogs.load(path=str(kaggle_train), cache_dir=str(tmp_path / "cache"), layout="kaggle")
    assert (tmp_path / "cache" / "datasets" / "cats_and_dogs_small" / "train" / "cats" / "cat.5.jpg").is_file()


def test_the_books_split_of_a_full_size_kaggle_folder(tmp_path):
    train = tmp_path / "train"
    write_kaggle_train(train, 2000, size=(8, 8))
    data = cats_vs_dogs.load(path=str(train), image_size=[8, 8])
    assert [len(data.train), len(data.validation), len(data.test)] == [2000, 1000, 1000]
    assert os.path.basename(data.test.features[-1]) == "dog.1999.jpg"


def test_split_layout(tmp_path):
    tree = write_split_tree(tmp_path, {"train": 4, "validation": 2, "test": 3}, size=(12, 12))
    data = cats_vs_dogs.load(path=str(tree), image_size=[12, 12])

    assert [len(data.train), len(data.validation), len(data.test)] == [8, 4, 6]
    assert data.train.features[0] == str(tree / "train" / "cats" / "cats.0.jpg")
    np.testing.assert_array_equal(data.test.targets, [0, 0, 0, 1, 1, 1])
    assert not (Path(os.environ["KERAS_HOME"]) / "datasets").exists()


def test_split_layout_without_validation_and_with_three_classes(tmp_path):
    tree = write_split_tree(tmp_path, {"train": 2, "test": 1}, size=(8, 8), class_names=("birds", "cats", "dogs"))
    data = cats_vs_dogs.load(path=str(tree), image_size=[8, 8], layout="split")
    assert data.validation is None
    assert data.info["class_names"] == ["birds", "cats", "dogs"]
    assert data.train.targets.dtype == np.int32
    np.testing.assert_array_equal(data.test.targets, [0, 1, 2])


def test_class_names_choose_and_order_the_classes(tmp_path):
    tree = write_split_tree(tmp_path, 1, size=(8, 8))
    data = cats_vs_dogs.load(path=str(tree), image_size=[8, 8], class_names=["dogs", "cats"])
    assert data.info["class_names"] == ["dogs", "cats"]
    assert os.path.basename(data.train.features[0]) == "dogs.0.jpg" and data.train.targets[0] == 0


def test_bad_images_fail_or_are_skipped(tmp_path):
    tree = write_split_tree(tmp_path, 2, size=(8, 8))
    (tree / "test" / "dogs" / "dogs.1.jpg").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"dogs\.1\.jpg.*dataset\.on_bad_image"):
        cats_vs_dogs.load(path=str(tree), image_size=[8, 8])
    data = cats_vs_dogs.load(path=str(tree), image_size=[8, 8], on_bad_image="skip")
    assert len(data.test) == 3 and len(data.train) == 4


def test_no_path_explains_how_to_get_the_data():
    with pytest.raises(DatasetUnavailableError) as caught:
        cats_vs_dogs.load()
    message = str(caught.value)
    assert "https://www.kaggle.com/c/dogs-vs-cats/data" in message
    assert "train.zip" in message and "dataset.path=/path/to/train" in message
    assert "train/ validation/ test/" in message


def test_a_folder_of_neither_shape_names_both(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetUnavailableError) as caught:
        cats_vs_dogs.load(path=str(tmp_path / "photos"))
    assert "cat.0.jpg" in str(caught.value) and "train/, validation/ and test/" in str(caught.value)


def test_the_parent_of_kaggles_train_folder_gets_a_hint(tmp_path):
    write_kaggle_train(tmp_path / "train", 1, size=(8, 8))
    with pytest.raises(DatasetUnavailableError, match=f"dataset.path={tmp_path / 'train'}"):
        cats_vs_dogs.load(path=str(tmp_path))


def test_a_missing_path(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        cats_vs_dogs.load(path=str(tmp_path / "nowhere"))


def test_split_layout_of_a_kaggle_folder_says_so(kaggle_train):
    with pytest.raises(DatasetUnavailableError, match="dataset.layout=kaggle"):
        cats_vs_dogs.load(path=str(kaggle_train), layout="split")


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"layout": "flat"}, "dataset.layout"),
        ({"on_bad_image": "ignore"}, "dataset.on_bad_image"),
        ({"class_names": ["cats"]}, "dataset.class_names"),
        ({"class_names": "cats"}, "dataset.class_names"),
        ({"class_names": ["cats", "cats"]}, "dataset.class_names"),
        ({"image_size": [150, -1]}, "dataset.image_size"),
        ({"preprocess": "vgg19"}, "dataset.preprocess"),
    ],
)
def test_invalid_values_name_the_key(arguments, key, tmp_path):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        cats_vs_dogs.load(path=str(tmp_path), **arguments)


def test_config_file_spells_out_every_argument():
    config = OmegaConf.to_container(OmegaConf.load(CONF / "dataset" / "cats_vs_dogs.yaml"))
    assert config.pop("_target_") == "dlbook.datasets.cats_vs_dogs.load"
    defaults = {key: parameter.default for key, parameter in inspect.signature(cats_vs_dogs.load).parameters.items()}
    defaults["image_size"] = list(defaults["image_size"])
    assert config == defaults


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return hydra_compose(config_name="train", overrides=overrides)


def test_augmented_config_builds_the_books_layers(tmp_path):
    import keras
    from hydra.utils import instantiate

    tree = write_split_tree(tmp_path, 2, size=(16, 16))
    cfg = compose(["dataset=cats_vs_dogs_augmented", f"dataset.path={tree}", "dataset.image_size=[16,16]"])
    data = instantiate(cfg.dataset)

    (layer,) = data.make_pipeline.augmentation
    assert type(layer).__name__ == "BookAugmentation" and isinstance(layer, keras.layers.Layer)
    assert (layer.rotation_range, layer.width_shift_range, layer.height_shift_range) == (40, 0.2, 0.2)
    assert (layer.shear_range, layer.zoom_range, layer.horizontal_flip) == (0.2, 0.2, True)
    assert (layer.fill_mode, layer.interpolation) == ("nearest", "nearest")
    images, _ = next(iter(data.make_pipeline(data.train, 4, shuffle=True, seed=0, training=True)))
    assert images.shape == (4, 16, 16, 3)
