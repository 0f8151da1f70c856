"""The whole catalogue end to end on the JAX and PyTorch backends (each where installed).

Chapters 2 to 7 and 8.1 here; DeepDream, style transfer, the VAE and the GAN in their own test files
(``CHAPTER_8_ELSEWHERE``); a test checks that together they name every experiment in experiments/.

One `dlbook train -m` sweep (in one process, so Keras is imported once) per data family and backend,
debug=fast, on small files in the real formats. Each job must complete on the backend it was given
(its provenance.json says which) and learn something a user can check: a finite training loss.
"""

from __future__ import annotations

import importlib.util
import math

import pytest
from cli_runner import ONE_PROCESS, read, run_dlbook
from fake_images import write_split_tree
from fake_text import SMALL_JENA, write_aclimdb, write_glove, write_jena_csv
from fakes import write_imdb_npz, write_reuters_npz

from dlbook.config.catalog import catalog

BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} not installed"))
    for name in ("jax", "torch")
]

IMDB_NPZ = [
    "imdb",
    "imdb_original",
    "imdb_smaller",
    "imdb_bigger",
    "imdb_l2",
    "imdb_dropout",
    "imdb_embedding",
    "imdb_simplernn",
    "imdb_lstm",
    "imdb_lstm_bidirectional",
    "imdb_lstm_reversed",
    "imdb_conv1d",
    "imdb_tensorboard",
]
# Every Jena experiment of chapter 6.3, as the catalogue lists them.
JENA = [entry.name for entry in catalog() if entry.name.startswith("jena_")]
IMAGES = ["cats_vs_dogs_scratch", "cats_vs_dogs_augmented", "vgg16_features", "vgg16_augmented", "vgg16_finetune"]
# Trained on JAX and PyTorch in tests/commands/test_train_dream_style.py and tests/commands/test_train_generative.py.
CHAPTER_8_ELSEWHERE = ["deep_dream", "style_transfer", "vae", "dcgan"]
CHAPTER_7 = ["qa_two_inputs", "multi_output", "inception_block", "residual_block", "siamese_lstm", "separable_convnet"]


def _families(folder):
    """(experiments, overrides) of each sweep: the data family's files are made in ``folder``."""
    return {
        "bundled": (["mnist_dense", "mnist_convnet", "boston_housing"], ["++dataset.source=bundled"]),
        # The book's protocols hold out 10,000 IMDB and 1,000 Reuters training examples for validation.
        "imdb": (IMDB_NPZ, [f"dataset.path={write_imdb_npz(folder / 'imdb.npz', n_train=10_200, n_test=60)}"]),
        "reuters": (["reuters"], [f"dataset.path={write_reuters_npz(folder / 'reuters.npz', n=1_600)}"]),
        "jena": (JENA, [f"dataset.path={write_jena_csv(folder / 'jena.csv', rows=12_000)}", *SMALL_JENA]),
        "chapter_7": (CHAPTER_7, ["++dataset.train_samples=200", "++dataset.test_samples=40"]),
        "text_generation": (
            ["text_generation", "text_generation_clipped"],
            [f"dataset.path={_corpus(folder / 'corpus.txt')}"],
        ),
        # Book 6.1.3: raw IMDB reviews, with and without GloVe embeddings.
        "raw_text": (
            ["imdb_glove", "imdb_no_glove"],
            [
                f"dataset.path={write_aclimdb(folder / 'text', per_class=30)}",
                "++dataset.training_samples=20",
                "++dataset.validation_samples=20",
                f"++embedding.glove.path={_glove(folder / 'glove.6B.100d.txt')}",
            ],
        ),
        # Chapter 5's image folders: tf.data decodes and augments them on every backend; random VGG16 weights.
        "images": (IMAGES, [f"dataset.path={write_split_tree(folder / 'images', 8, size=(50, 50))}", "++weights=null"]),
    }


def _glove(path):
    write_glove(path, ["good", "bad", "movie", "film", "great", "awful", "the"], dimension=100)
    return path


def _corpus(path):
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "runs"]
    path.write_text(" ".join(words[(index * 7) % len(words)] for index in range(600)), encoding="utf-8")
    return path


FAMILIES = ["bundled", "imdb", "reuters", "jena", "chapter_7", "text_generation", "raw_text", "images"]


def test_the_families_and_chapter_8_name_every_experiment(tmp_path):
    named = {name for experiments, _ in _families(tmp_path).values() for name in experiments}
    assert named | set(CHAPTER_8_ELSEWHERE) == {entry.name for entry in catalog()}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_catalogue_trains_on_other_backends(tmp_path, backend, family):
    experiments, overrides = _families(tmp_path)[family]
    result = run_dlbook(
        "train",
        "-m",
        ONE_PROCESS,
        f"experiment={','.join(experiments)}",
        f"backend={backend}",
        "debug=fast",
        *overrides,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    finished = {}
    for status_file in (tmp_path / "outputs" / "multirun").rglob("status.json"):
        status = read(status_file)
        finished[status["experiment"]] = status
        assert status["status"] == "completed", (status["experiment"], status.get("error"))
        provenance = read(status_file.with_name("provenance.json"))
        assert provenance["backend"]["name"] == backend, status["experiment"]
        metrics = read(status_file.with_name("metrics.json"))
        losses = [value for key, value in (metrics.get("train") or metrics.get("test") or {}).items() if "loss" in key]
        assert losses and all(math.isfinite(loss) for loss in losses), (status["experiment"], metrics)
    assert set(finished) == set(experiments)
