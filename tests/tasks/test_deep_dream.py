"""DeepDream (book 8.2): the loss, the ascent, the octaves and the files, with random InceptionV3 weights."""

from __future__ import annotations

import types

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from dlbook.datasets.single_image import load
from dlbook.errors import ConfigError
from dlbook.tasks import deep_dream


def fake_trainer(tmp_path, images, max_steps=3):
    cfg = OmegaConf.create({"trainer": {"max_steps": max_steps}, "paths": {"run_dir": str(tmp_path)}})
    return types.SimpleNamespace(cfg=cfg, data=load(images), history_rows=[])


def test_dream_loss_is_the_books_cropped_sum_of_squares():
    rng = np.random.default_rng(0)
    activations = {"a": rng.normal(size=(1, 7, 9, 4)).astype("float32"), "b": rng.normal(size=(1, 6, 6, 2))}
    activations["b"] = activations["b"].astype("float32")
    coefficients = {"a": 0.2, "b": 3.0}
    expected = sum(
        coefficient * np.sum(activations[name][:, 2:-2, 2:-2, :] ** 2) / activations[name].size
        for name, coefficient in coefficients.items()
    )
    assert float(deep_dream.dream_loss(activations, coefficients)) == pytest.approx(expected, rel=1e-5)


def test_octave_shapes_are_the_books():
    assert deep_dream.octave_shapes((350, 350), 3, 1.4) == [(178, 178), (250, 250), (350, 350)]


def test_gradient_ascent_increases_the_loss():
    base = deep_dream.build_base("InceptionV3", None)
    coefficients = deep_dream.BOOK_LAYERS
    compute = deep_dream.loss_and_gradient(
        deep_dream.layer_outputs(base, list(coefficients), "task.layers"), coefficients
    )
    image = np.random.default_rng(0).uniform(-1, 1, size=(1, 96, 96, 3)).astype("float32")
    _, losses = deep_dream.gradient_ascent(compute, image, iterations=4, step=0.05, max_loss=None)
    assert len(losses) == 4
    assert all(later > earlier for earlier, later in zip(losses, losses[1:], strict=False))
    # max_loss stops the octave before any step whose loss exceeds it
    _, stopped = deep_dream.gradient_ascent(compute, image, iterations=4, step=0.05, max_loss=losses[1])
    assert stopped == losses[:2]


def test_run_writes_a_png_per_octave_the_final_dream_and_history_rows(tmp_path):
    trainer = fake_trainer(tmp_path, {"image": None}, max_steps=2)
    result = deep_dream.run(trainer, weights=None, image_height=150)
    assert result.model is None
    metrics = result.metrics["dream"]
    assert metrics["octaves"] == 3 and metrics["steps"] == [2, 2, 2]
    assert metrics["shapes"] == ["76x115", "107x161", "150x226"]
    for shape in metrics["shapes"]:
        height, width = map(int, shape.split("x"))
        assert Image.open(tmp_path / f"dream_at_scale_{shape}.png").size == (width, height)
    assert Image.open(tmp_path / "final_dream.png").size == (226, 150)
    assert list((tmp_path / "tensorboard" / "deep_dream").glob("events.out.tfevents.*"))
    assert [(row["phase"], row["epoch"]) for row in trainer.history_rows] == [
        (f"octave_{octave}", step) for octave in (1, 2, 3) for step in (0, 1)
    ]
    assert metrics["final_loss"] == trainer.history_rows[-1]["loss"]


def test_an_image_too_small_for_inception_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"task.image_height=64 .*at least 75x75"):
        deep_dream.run(fake_trainer(tmp_path, {"image": None}), weights=None, image_height=64)


def test_unknown_layer_names_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) mixed99.*mixed0"):
        deep_dream.run(
            fake_trainer(tmp_path, {"image": None}), weights=None, layers={"mixed99": 1.0}, octaves=1, image_height=80
        )


def test_bad_weights_and_missing_photo_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="weights=imagenett is not valid"):
        deep_dream.check_weights("imagenett")
    with pytest.raises(ConfigError, match=r"image=nowhere.jpg is not valid: no such file"):
        load({"image": "nowhere.jpg"})
    with pytest.raises(ConfigError, match=r"dataset.bundled.style_image='lena' is not valid"):
        load({"style_image": None}, {"style_image": "lena"})
    with pytest.raises(ConfigError, match="dataset.images is empty"):
        load({})


def test_single_image_loader_reads_a_file_and_bundled_photos(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((20, 30, 3), 200, dtype=np.uint8)).save(path)
    data = load({"content_image": str(path), "style_image": None}, {"style_image": "coffee"})
    assert data.info["images"]["content_image"].shape == (20, 30, 3)
    assert data.info["images"]["style_image"].shape == (400, 600, 3)
    assert len(data.train) == 1 and data.input_shape == (20, 30, 3)
    assert "coffee" in data.source
