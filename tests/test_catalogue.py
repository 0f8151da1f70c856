"""Every experiment of the catalogue composes, and its model has the book's parameter count."""

from __future__ import annotations

import pytest
from composing import compose_train_config
from hydra.utils import instantiate

from dlbook.config.catalog import catalog

EXPERIMENTS = [entry.name for entry in catalog()]

# Parameter counts printed by the book's model.summary() (Keras 2); input shapes as the book feeds them.
# Keras 3's GRU uses reset_after=True (cuDNN-compatible), which adds 3 x units biases per GRU layer.
BOOK_PARAMETERS = {
    "imdb_embedding": ((20,), 80_161),
    "imdb_simplernn": ((500,), 322_113),
    "imdb_lstm": ((500,), 328_353),
    "imdb_lstm_reversed": ((500,), 1_300_641),
    "imdb_lstm_bidirectional": ((500,), 336_705),
    "imdb_conv1d": ((500,), 1_315_937),
    "jena_dense": ((240, 14), 107_585),
    "jena_gru": ((240, 14), 4_545 + 96),
    "jena_gru_dropout": ((240, 14), 4_545 + 96),
    "jena_gru_stacked": ((240, 14), 23_201 + 96 + 192),
    "jena_gru_reversed": ((240, 14), 4_545 + 96),
    "jena_gru_bidirectional": ((240, 14), 9_089 + 192),
    "jena_conv1d": ((240, 14), 12_609),
    "jena_conv_gru": ((240, 14), 13_697 + 96),
}


def test_the_catalogue_covers_chapters_2_3_5_and_6():
    sections = {entry.section.rstrip("abc") for entry in catalog()}
    assert {"2.1", "3.5", "3.6", "3.7", "5.1", "5.2", "5.3", "6.1", "6.2", "6.3", "6.4"} <= sections


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_with_a_reference(experiment):
    cfg = compose_train_config(f"experiment={experiment}")
    assert cfg.name == experiment
    assert cfg.reference.metric and cfg.reference.band is not None
    assert cfg.book.section


@pytest.mark.parametrize(("experiment", "shape_and_count"), BOOK_PARAMETERS.items())
def test_models_have_the_books_parameter_counts(experiment, shape_and_count):
    input_shape, parameters = shape_and_count
    cfg = compose_train_config(f"experiment={experiment}")
    model = instantiate(cfg.model)(input_shape=input_shape)
    assert model.count_params() == parameters


def test_imdb_conv1d_defaults_to_a_sigmoid_and_keeps_the_books_exact_variant():
    correct = instantiate(compose_train_config("experiment=imdb_conv1d").model)(input_shape=(500,))
    book = instantiate(compose_train_config("experiment=imdb_conv1d", "output_activation=null").model)(
        input_shape=(500,)
    )
    assert correct.layers[-1].activation.__name__ == "sigmoid"
    assert book.layers[-1].activation.__name__ == "linear"
