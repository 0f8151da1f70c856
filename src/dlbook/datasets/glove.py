"""Pretrained GloVe word vectors as an embedding matrix for a vocabulary (book 6.1b(ii), listing 6.10).

A GloVe file is UTF-8 text, one word per line followed by its ``d`` values, separated by single
spaces (``the 0.418 0.24968 ...``). ``glove.6B.zip`` holds four such files (50, 100, 200 and 300
dimensions); the member is streamed out of the zip line by line, and only the vectors of words in
the vocabulary are kept, so a 400,000-word file never sits in memory.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

import numpy as np

from dlbook.datasets.io.download import fetch
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

logger = logging.getLogger("dlbook")

ORIGIN = "https://nlp.stanford.edu/data/glove.6B.zip"
MEMBER = "glove.6B.100d.txt"
# The tokens TextVectorization reserves for padding (index 0) and unknown words (index 1): never GloVe words.
RESERVED_TOKENS = ("", "[UNK]")


def embedding_matrix(
    vocabulary: Sequence[str],
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = None,
    cache_dir: str | None = None,
    member: str = MEMBER,
    dimension: int | None = None,
) -> np.ndarray:
    """A float32 ``(len(vocabulary), d)`` matrix: row ``i`` is the GloVe vector of ``vocabulary[i]``.

    Rows of words the file lacks, and of the padding / unknown tokens, are zeros (the book's
    listing 6.10). The file is ``path`` (a GloVe text file, or a zip holding ``member``), else the
    cached or downloaded ``origin``. ``d`` is read from the file; a ``dimension`` that differs from
    it is a :class:`ConfigError`. Every line must hold a word and ``d`` values (else
    :class:`DatasetFormatError` with the line number); the values are parsed only for the vocabulary's
    words, so a non-number elsewhere goes unnoticed. A word listed twice keeps its last vector, as the
    book's dictionary did.
    """
    if dimension is not None and (not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1):
        raise ConfigError(f"glove.dimension={dimension} is not valid: a positive integer, or null to read it")
    if path is None:
        fname = Path(urlparse(str(origin)).path).name or "glove.6B.zip"
        file = fetch("GloVe", fname=fname, origin=origin, file_hash=file_hash, path=None, cache_dir=cache_dir)
    else:
        file = fetch("GloVe", fname="", origin=origin, file_hash=None, path=path, cache_dir=cache_dir)

    rows: dict[str, int] = {}
    for index, word in enumerate(vocabulary):
        if word not in RESERVED_TOKENS:
            rows.setdefault(word, index)

    with open_vectors(file, member) as (stream, source):
        matrix, total, found = _read_vectors(stream, source, rows, len(vocabulary), dimension)
    words = len(rows)
    logger.info(
        "GloVe: Found %d word vectors in %s; %d of the %d vocabulary words (%.1f%%) have one, the others get zeros",
        total,
        source,
        found,
        words,
        100.0 * found / words if words else 0.0,
    )
    return matrix


def vectors_for(vocabulary: Sequence[str], settings: Mapping[str, Any]) -> Callable[[], np.ndarray]:
    """A function returning the GloVe matrix of ``vocabulary``, read on its first call (then kept).

    A text dataset hands it to model builders in ``info["embedding_matrix"]``: only a model that uses the
    pretrained vectors (``embedding.weights=glove``) calls it, so a run without them never reads the file.
    ``settings`` is the dataset/glove config (path, origin, member ...; its ``_target_`` is ignored).
    """
    arguments = {key: value for key, value in dict(settings).items() if key != "_target_"}
    words = list(vocabulary)

    @cache
    def matrix() -> np.ndarray:
        return embedding_matrix(words, **arguments)

    return matrix


@contextmanager
def open_vectors(file: Path, member: str) -> Iterator[tuple[TextIO, str]]:
    """A UTF-8 text stream over the GloVe file (a zip's ``member``, streamed) and its name for messages."""
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if member not in names:
                texts = [name for name in names if name.endswith(".txt")]
                raise DatasetUnavailableError(
                    f"{file} has no member {member} (glove.member). It holds: {', '.join(texts or names)}"
                )
            with archive.open(member) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8"), f"{file}:{member}"
    else:
        with open(os.fspath(file), encoding="utf-8") as stream:
            yield stream, str(file)


def _read_vectors(
    stream: TextIO, source: str, rows: dict[str, int], size: int, dimension: int | None
) -> tuple[np.ndarray, int, int]:
    """Fill the matrix from the lines of ``stream``; returns it, the file's word count, and the words found."""
    matrix: np.ndarray | None = None
    filled = np.zeros(size, dtype=bool)
    total = 0
    try:
        for line_number, line in enumerate(stream, start=1):
            line = line.rstrip()
            if not line:
                continue
            if matrix is None:
                file_dimension = _dimension_of(line, source)
                if dimension is not None and dimension != file_dimension:
                    raise ConfigError(
                        f"glove.dimension={dimension} is not valid for {source}: its vectors have "
                        f"{file_dimension} values. Pick the member of that size (glove.member) or set "
                        "glove.dimension=null to take the file's."
                    )
                dimension = file_dimension
                matrix = np.zeros((size, dimension), dtype=np.float32)
            # Counting spaces is cheap; the values are parsed only for the vocabulary's words.
            if line.count(" ") != dimension:
                raise DatasetFormatError(
                    f"{source}, line {line_number}: expected a word and {dimension} values separated by "
                    f"single spaces, found {len(line.split(' ')) - 1} values. The file is damaged or not GloVe text."
                )
            total += 1
            word, values = line.split(" ", 1)
            row = rows.get(word)
            if row is None:
                continue
            try:
                matrix[row] = np.array(values.split(" "), dtype=np.float32)
            except ValueError as error:
                raise DatasetFormatError(f"{source}, line {line_number}: a value is not a number ({error})") from error
            filled[row] = True
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{source} is not UTF-8 text ({error}); it is not a GloVe file") from error
    if matrix is None:
        raise DatasetFormatError(f"{source} is empty: it holds no word vectors")
    return matrix, total, int(filled.sum())


def _dimension_of(first_line: str, source: str) -> int:
    fields = first_line.split(" ")
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        raise DatasetFormatError(
            f"{source} starts with the header '{first_line}' of a word2vec file; GloVe files have no header "
            "(each line is a word and its values)"
        )
    if len(fields) < 2:
        raise DatasetFormatError(f"{source}, line 1: expected a word followed by its values, found '{first_line[:80]}'")
    return len(fields) - 1
