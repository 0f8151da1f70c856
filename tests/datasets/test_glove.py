"""GloVe vectors: the embedding matrix of a vocabulary, from a text file or a zip member."""

import inspect
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fake_text import write_glove, write_glove_zip
from fakes import serve_directory

from dlbook.datasets import glove
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

WORDS = ["the", "movie", "was", "wonderful", "awful", "plot", "é-word"]
VOCABULARY = ["", "[UNK]", "the", "movie", "notinglove", "wonderful", "é-word"]


def check_rows(matrix, vectors):
    """Each vocabulary word's row is its vector; padding, [UNK] and unknown words are zeros."""
    for index, word in enumerate(VOCABULARY):
        expected = vectors.get(word, np.zeros(matrix.shape[1], dtype=np.float32)) if index > 1 else 0.0
        np.testing.assert_array_equal(matrix[index], expected)


def test_matrix_from_a_text_file_takes_its_dimension(tmp_path, caplog):
    vectors = write_glove(tmp_path / "vectors.txt", WORDS, dimension=7)
    with caplog.at_level(logging.INFO, logger="dlbook"):
        matrix = glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "vectors.txt"))
    assert matrix.shape == (len(VOCABULARY), 7) and matrix.dtype == np.float32
    check_rows(matrix, vectors)
    assert not matrix[4].any()
    assert "Found 7 word vectors" in caplog.text
    assert "4 of the 5 vocabulary words" in caplog.text


def test_matrix_from_a_zip_member(tmp_path):
    vectors = write_glove_zip(tmp_path / "glove.6B.zip", WORDS, dimensions=(5, 8))
    matrix = glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "glove.6B.zip"), member="glove.6B.8d.txt")
    assert matrix.shape == (len(VOCABULARY), 8)
    check_rows(matrix, vectors[8])
    with pytest.raises(DatasetUnavailableError, match="glove.6B.5d.txt, glove.6B.8d.txt"):
        glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "glove.6B.zip"), member="glove.6B.100d.txt")


def test_downloads_the_zip_once_into_the_cache(tmp_path, keras_home):
    served = tmp_path / "served"
    served.mkdir()
    vectors = write_glove_zip(served / "glove.6B.zip", WORDS, dimensions=(6,))
    with serve_directory(served) as (url, requests):
        for _ in range(2):
            matrix = glove.embedding_matrix(VOCABULARY, origin=f"{url}/glove.6B.zip", member="glove.6B.6d.txt")
    assert requests == ["/glove.6B.zip"]
    assert (keras_home / "datasets" / "glove.6B.zip").is_file()
    check_rows(matrix, vectors[6])


def test_dimension_must_match_the_file(tmp_path):
    write_glove(tmp_path / "vectors.txt", WORDS, dimension=4)
    assert glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "vectors.txt"), dimension=4).shape[1] == 4
    with pytest.raises(ConfigError, match="glove.dimension=100 .* 4 values"):
        glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "vectors.txt"), dimension=100)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("movie 0.1 0.2", "line 2: expected a word and 3 values .* found 2"),
        ("movie 0.1 0.2 0.3 0.4", "line 2: expected a word and 3 values .* found 4"),
        ("movie 0.1 abc 0.3", "line 2: a value is not a number"),
    ],
)
def test_malformed_lines_name_the_file_and_line(tmp_path, line, message):
    file = tmp_path / "vectors.txt"
    file.write_text(f"the 1.0 2.0 3.0\n{line}\nwas 1 2 3\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=message) as error:
        glove.embedding_matrix(VOCABULARY, path=str(file))
    assert str(file) in str(error.value)


def test_word2vec_file_is_recognised(tmp_path):
    file = tmp_path / "vectors.txt"
    file.write_text("2 3\nthe 1 2 3\nmovie 1 2 3\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="word2vec"):
        glove.embedding_matrix(VOCABULARY, path=str(file))


def test_zip_is_streamed_not_read_whole(tmp_path, monkeypatch):
    write_glove_zip(tmp_path / "glove.6B.zip", WORDS, dimensions=(3,))
    reads = []
    for method in ("read", "read1"):
        original = getattr(zipfile.ZipExtFile, method)

        def recorded(self, size=-1, original=original):
            reads.append(size)
            return original(self, size)

        monkeypatch.setattr(zipfile.ZipExtFile, method, recorded)
    glove.embedding_matrix(VOCABULARY, path=str(tmp_path / "glove.6B.zip"), member="glove.6B.3d.txt")
    assert reads and all(size is not None and size > 0 for size in reads)  # never read(-1): the whole member


def test_config_file_spells_out_every_setting():
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(OmegaConf.load(Path(__file__).parents[2] / "conf" / "dataset" / "glove.yaml"))
    assert config.pop("_target_") == "dlbook.datasets.glove.embedding_matrix"
    parameters = inspect.signature(glove.embedding_matrix).parameters
    assert config == {key: parameter.default for key, parameter in parameters.items() if key != "vocabulary"}
