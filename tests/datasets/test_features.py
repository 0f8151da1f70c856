"""Feature extraction (book 5.3a): computed once, cached by content, read back without building the base."""

import logging
from pathlib import Path

import numpy as np
import pytest
from fake_images import BASE_BUILDS, class_image, write_image, write_split_tree

from dlbook.datasets import features
from dlbook.errors import ConfigError, DatasetUnavailableError

CONF = Path(__file__).parents[2] / "conf"


@pytest.fixture
def tree(tmp_path):
    return write_split_tree(tmp_path / "images", {"train": 4, "validation": 2, "test": 2}, size=(16, 16))


def images_config(tree, **settings):
    return {"_target_": "dlbook.datasets.cats_vs_dogs.load", "path": str(tree), "image_size": [16, 16], **settings}


def base_config(filters=4):
    return {"_target_": "fake_images.tiny_base", "input_shape": [16, 16, 3], "filters": filters}


def test_a_miss_computes_and_caches_then_a_hit_skips_the_base(tree, keras_home):
    builds = BASE_BUILDS["count"]
    first = features.load(images=images_config(tree), base=base_config())

    assert BASE_BUILDS["count"] == builds + 1
    assert first.info["cache_hit"] is False
    cache = Path(first.info["feature_cache"])
    assert cache.parent == keras_home / "dlbook_features" and len(cache.stem) == 64 and cache.is_file()
    # 16x16 -> conv 3x3 -> 14x14x4 -> max-pool 4 -> 3x3x4 = 36 features per image.
    assert first.input_shape == (36,)
    assert first.train.features.shape == (8, 36) and first.train.features.dtype == np.float32
    assert [len(first.validation), len(first.test)] == [4, 4]
    np.testing.assert_array_equal(first.train.targets, [0, 0, 0, 0, 1, 1, 1, 1])
    assert first.make_pipeline is None and first.encode is None
    assert first.info["class_names"] == ["cats", "dogs"]
    assert [path.name for path in cache.parent.iterdir()] == [cache.name]  # no temporary file left

    second = features.load(images=images_config(tree), base=base_config())
    assert BASE_BUILDS["count"] == builds + 1
    assert second.info["cache_hit"] is True and second.info["feature_cache"] == str(cache)
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(second, split).features, getattr(first, split).features)


def test_a_changed_image_is_a_miss(tree):
    first = features.load(images=images_config(tree), base=base_config())
    write_image(tree / "test" / "dogs" / "dogs.1.jpg", class_image(0, (16, 16), seed=99))
    second = features.load(images=images_config(tree), base=base_config())
    assert second.info["cache_hit"] is False
    assert second.info["feature_cache"] != first.info["feature_cache"]


@pytest.mark.parametrize(
    ("images_settings", "filters"),
    [({"rescale": None}, 4), ({"image_size": [16, 17]}, 4), ({"preprocess": "vgg16"}, 4), ({}, 5)],
)
def test_changed_image_settings_or_base_are_a_miss(tree, images_settings, filters):
    features.load(images=images_config(tree), base=base_config())
    data = features.load(images=images_config(tree, **images_settings), base=base_config(filters))
    assert data.info["cache_hit"] is False


def test_a_damaged_cache_is_recomputed(tree, caplog):
    cache = Path(features.load(images=images_config(tree), base=base_config()).info["feature_cache"])
    cache.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        data = features.load(images=images_config(tree), base=base_config())
    assert data.info["cache_hit"] is False and "cannot read the cache" in caplog.text
    assert features.load(images=images_config(tree), base=base_config()).info["cache_hit"] is True


def test_path_and_cache_dir_apply_to_the_images(tree, tmp_path):
    data = features.load(
        images=images_config(None), base=base_config(), path=str(tree), cache_dir=str(tmp_path / "cache")
    )
    assert Path(data.info["feature_cache"]).parent == tmp_path / "cache" / "dlbook_features"
    assert len(data.train) == 8


def test_the_vgg16_config_composes_and_extracts(tree, keras_home):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    overrides = [
        "dataset=vgg16_features",
        f"dataset.path={tree}",
        "dataset.images.image_size=[32,32]",
        "dataset.base.weights=null",
        "dataset.base.input_shape=[32,32,3]",
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="train", overrides=overrides)
    assert cfg.dataset.images._target_ == "dlbook.datasets.cats_vs_dogs.load"
    data = instantiate(cfg.dataset)
    # VGG16 at 32x32: five poolings -> 1x1x512.
    assert data.input_shape == (512,) and data.train.features.shape == (8, 512)
    assert "keras.applications.VGG16" in data.source
    # Random weights depend on the run's seed, which the cache key cannot see: never cached.
    assert data.info["feature_cache"] is None and data.info["cache_hit"] is False
    assert not (keras_home / "dlbook_features").exists()


def test_a_failed_weights_download_explains_what_to_do(tree, monkeypatch):
    from keras.src.applications import vgg16

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -2]")

    monkeypatch.setattr(vgg16.file_utils, "get_file", offline)
    base = {"_target_": "keras.applications.VGG16", "weights": "imagenet", "include_top": False}
    base["input_shape"] = [32, 32, 3]
    with pytest.raises(DatasetUnavailableError) as caught:
        features.load(images=images_config(tree, image_size=[32, 32]), base=base)
    message = str(caught.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message and "dataset.base.weights=null" in message


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"batch_size": 0}, "dataset.batch_size"),
        ({"images": {"path": "x"}}, "dataset.images"),
        ({"base": None}, "dataset.base"),
    ],
)
def test_invalid_arguments_name_the_key(tree, arguments, key):
    settings = {"images": images_config(tree), "base": base_config(), **arguments}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        features.load(**settings)


def test_images_must_be_an_image_dataset(tmp_path):
    from fakes import write_mnist_npz

    mnist = {"_target_": "dlbook.datasets.mnist.load", "path": str(write_mnist_npz(tmp_path / "mnist.npz"))}
    with pytest.raises(ConfigError, match="dataset.images._target_"):
        features.load(images=mnist, base=base_config())


def test_config_file_spells_out_every_argument():
    import inspect

    from omegaconf import OmegaConf

    config = OmegaConf.to_container(OmegaConf.load(CONF / "dataset" / "vgg16_features.yaml"))
    assert config.pop("defaults") == ["cats_vs_dogs@images", "_self_"]
    assert config.pop("_target_") == "dlbook.datasets.features.load"
    assert config.pop("_recursive_") is False
    assert config.pop("base") == {
        "_target_": "keras.applications.VGG16",
        "weights": "imagenet",
        "include_top": False,
        "input_shape": [150, 150, 3],
    }
    defaults = {key: parameter.default for key, parameter in inspect.signature(features.load).parameters.items()}
    del defaults["images"], defaults["base"]
    assert config == defaults


def test_debug_limits_decode_and_featurise_only_the_images_a_smoke_run_uses(tmp_path, keras_home, monkeypatch):
    from dlbook.datasets.io.image_pipeline import ImagePipeline
    from dlbook.datasets.io.limits import limited_to

    big = write_split_tree(tmp_path / "big", 10, size=(16, 16))  # 20 images a split
    decoded = []
    original = ImagePipeline.decode

    def counting(self, paths):
        decoded.append(len(paths))
        return original(self, paths)

    monkeypatch.setattr(ImagePipeline, "decode", counting)
    with limited_to(6):  # what debug=fast gives: trainer.max_steps (3) x a batch of 2
        data = features.load(images=images_config(big), base=base_config())
    assert decoded == [6, 6, 6]  # train, validation, test: 18 images decoded, not 60
    assert [len(data.train), len(data.validation), len(data.test)] == [6, 6, 6]
    # Evenly spread over the class-by-class listing: both classes are there.
    assert sorted(set(data.train.targets.tolist())) == [0, 1]

    decoded.clear()
    everything = features.load(images=images_config(big), base=base_config())  # no debug limit: all of them
    assert decoded == [20, 20, 20] and len(everything.train) == 20
