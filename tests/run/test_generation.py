"""Text generation (book 8.1): temperature re-weighting, sampling, the per-epoch sampler, `generate`."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from dlbook.commands.generate import generate
from dlbook.datasets import text_corpus
from dlbook.errors import ConfigError
from dlbook.run import generation

TEXT = "the will to power is the essence of life and every philosopher knows it. " * 4
MAXLEN = 10


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(corpus):
    import keras

    keras.utils.set_random_seed(0)
    chars = len(sorted(set(TEXT)))
    return keras.Sequential(
        [keras.Input((MAXLEN, chars)), keras.layers.LSTM(4), keras.layers.Dense(chars, activation="softmax")]
    )


def test_reweight_sharpens_as_temperature_falls_and_is_unchanged_at_one():
    p = np.array([0.1, 0.2, 0.7])
    assert np.allclose(generation.reweight(p, 1.0), p)
    cold, colder = generation.reweight(p, 0.5), generation.reweight(p, 0.2)
    assert colder[2] > cold[2] > p[2] and np.isclose(colder.sum(), 1.0)
    assert generation.reweight(p, 2.0)[2] < p[2]
    with pytest.raises(ConfigError, match="temperature=0"):
        generation.reweight(p, 0)


def test_sample_is_fixed_by_the_rng_seed_and_has_the_length(model):
    chars = sorted(set(TEXT))
    seed_text = TEXT[:MAXLEN]
    first = generation.sample_text(model, seed_text, chars, 25, 1.0, np.random.default_rng(3))
    again = generation.sample_text(model, seed_text, chars, 25, 1.0, np.random.default_rng(3))
    assert first == again and len(first) == 25 and set(first) <= set(chars)
    # A shorter seed is padded with spaces; characters outside the vocabulary are named.
    assert len(generation.sample_text(model, "will", chars, 3, 0.5, np.random.default_rng(0))) == 3
    with pytest.raises(ConfigError, match="'Z'"):
        generation.sample_text(model, "Zarathustra", chars, 3, 0.5, np.random.default_rng(0))


def test_sampler_writes_every_temperature_and_a_tensorboard_text_event(tmp_path, corpus, model):
    import tensorflow as tf

    data = text_corpus.load(path=str(corpus), maxlen=MAXLEN, step=3)
    sampler = generation.text_sampler(str(tmp_path), temperatures=[0.2, 1.2], length=12, seed=0)
    sampler.set_model(model)
    sampler.set_data(data)
    sampler.on_epoch_end(0)
    sampler.on_train_end()
    text = (tmp_path / "samples" / "epoch_001.txt").read_text()
    assert "--- temperature 0.2" in text and "--- temperature 1.2" in text
    tags = set()
    for events in (tmp_path / "tensorboard" / "samples").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            tags |= {value.tag for value in event.summary.value}
    assert tags == {"temperature_0.2", "temperature_1.2"}


def test_generate_on_a_tiny_run(tmp_path, corpus, model):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    model.save(run / "model.keras")
    dataset = {"_target_": "dlbook.datasets.text_corpus.load", "path": str(corpus), "maxlen": MAXLEN, "step": 3}
    OmegaConf.save({"seed": 0, "deterministic": False, "dataset": dataset}, run / ".hydra" / "config.yaml")
    cfg = {"run": str(run), "seed_text": None, "temperature": 0.5, "length": 40, "seed": 0, "dataset": {"path": None}}
    text = generate(OmegaConf.create(cfg))
    assert len(text) == 40 and set(text) <= set(TEXT)
    # Upper case is lowered as the run's text was.
    generate(OmegaConf.create({**cfg, "seed_text": "The Will", "length": 5}))
    written = (run / "samples" / "generated.txt").read_text()
    assert written.count("--- temperature 0.5") == 2 and "'the will'" in written
