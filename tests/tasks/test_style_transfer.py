"""Neural style transfer (book 8.3): the losses against NumPy, L-BFGS lowering the loss, the PNGs."""

from __future__ import annotations

import types

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from dlbook.datasets.single_image import load
from dlbook.errors import ConfigError
from dlbook.tasks import style_transfer

RNG = np.random.default_rng(0)


def numpy_gram(features):
    flat = features.transpose(2, 0, 1).reshape(features.shape[2], -1)
    return flat @ flat.T


def test_gram_matrix_and_style_loss_equal_numpy():
    style = RNG.normal(size=(5, 6, 4)).astype("float32")
    combination = RNG.normal(size=(5, 6, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(style_transfer.gram_matrix(style)), numpy_gram(style), rtol=1e-5)
    expected = np.sum((numpy_gram(style) - numpy_gram(combination)) ** 2) / (4 * 9 * (10 * 12) ** 2)
    assert float(style_transfer.style_loss(style, combination, 10, 12)) == pytest.approx(expected, rel=1e-5)


def test_total_variation_loss_equals_numpy():
    image = RNG.normal(size=(1, 7, 8, 3)).astype("float32")
    down = (image[:, :-1, :-1, :] - image[:, 1:, :-1, :]) ** 2
    right = (image[:, :-1, :-1, :] - image[:, :-1, 1:, :]) ** 2
    expected = np.sum((down + right) ** 1.25)
    assert float(style_transfer.total_variation_loss(image)) == pytest.approx(expected, rel=1e-5)


def test_preprocess_and_deprocess_round_trip():
    photo = RNG.integers(0, 256, size=(12, 18, 3), dtype=np.uint8)
    batch = style_transfer.preprocess(photo, 12, 18)
    assert batch.shape == (1, 12, 18, 3)
    np.testing.assert_allclose(batch[0, ..., 0], photo[..., 2] - 103.939, atol=1e-4)  # BGR, mean-free
    np.testing.assert_array_equal(style_transfer.deprocess(batch), photo)


def fake_trainer(tmp_path, max_steps):
    cfg = OmegaConf.create({"trainer": {"max_steps": max_steps}, "paths": {"run_dir": str(tmp_path)}})
    data = load({"content_image": None, "style_image": None}, {"style_image": "coffee"})
    return types.SimpleNamespace(cfg=cfg, data=data, history_rows=[])


def test_lbfgs_lowers_the_loss_and_writes_a_png_per_iteration(tmp_path):
    trainer = fake_trainer(tmp_path, max_steps=3)
    result = style_transfer.run(trainer, weights=None, image_height=32, maxfun=5)
    assert result.model is None
    metrics = result.metrics["style_transfer"]
    assert metrics["iterations"] == 3 and metrics["image_size"] == "32x48"
    losses = [row["loss"] for row in trainer.history_rows]
    assert losses[0] > losses[1] > losses[2] and metrics["loss_ratio"] < 1
    for row in trainer.history_rows:
        assert row["phase"] == "style_transfer"
        parts = row["content_loss"] + row["style_loss"] + row["tv_loss"]
        assert parts == pytest.approx(row["loss"], rel=1e-4)
    for iteration in range(3):
        assert Image.open(tmp_path / f"style_transfer_result_at_iteration_{iteration}.png").size == (48, 32)
    assert list((tmp_path / "tensorboard" / "style_transfer").glob("events.out.tfevents.*"))


def test_unknown_layer_and_missing_photo_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) block9_conv1.*block1_conv1"):
        style_transfer.run(fake_trainer(tmp_path, 1), weights=None, image_height=32, content_layer="block9_conv1")
    with pytest.raises(ConfigError, match=r"task.style_key=painting is not valid"):
        style_transfer.run(fake_trainer(tmp_path, 1), weights=None, style_key="painting")
    with pytest.raises(ConfigError, match=r"content_image=missing.png is not valid: no such file"):
        load({"content_image": "missing.png"})
