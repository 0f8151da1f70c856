"""Embedding layers whose weights come from the data: pretrained GloVe vectors (book 6.1b(ii))."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbook.errors import ConfigError


def glove_embedding(
    data,
    glove: Mapping[str, Any] | None,
    output_dim: int | None = None,
    trainable: bool = False,
    name: str = "embedding",
):
    """An ``Embedding`` over the dataset's vocabulary, initialised from GloVe and frozen (the book's listing 6.10).

    ``data.info["vocabulary"]`` lists the tokens by index (the tokenizer's order). With ``glove``
    null the layer is an ordinary trainable embedding of ``output_dim`` (the book's comparison model).
    """
    import keras

    vocabulary = data.info.get("vocabulary") if data is not None else None
    if not vocabulary:
        raise ConfigError(
            "model.layers: glove_embedding needs a dataset with a vocabulary (e.g. dataset=imdb_text); "
            f"this dataset ({getattr(data, 'source', '?')}) has none."
        )
    if glove is None:
        if not output_dim:
            raise ConfigError("glove_embedding with glove=null needs output_dim (e.g. 100).")
        return keras.layers.Embedding(len(vocabulary), output_dim, name=name)
    from dlbook.datasets.glove import embedding_matrix

    settings = {key: value for key, value in dict(glove).items() if key != "_target_"}
    matrix = embedding_matrix(list(vocabulary), **settings)
    if output_dim is not None and output_dim != matrix.shape[1]:
        raise ConfigError(
            f"glove_embedding output_dim={output_dim} does not match the GloVe file's dimension {matrix.shape[1]}; "
            "leave output_dim null to take the file's."
        )
    return keras.layers.Embedding(
        len(vocabulary),
        matrix.shape[1],
        embeddings_initializer=keras.initializers.Constant(matrix),
        trainable=trainable,
        name=name,
    )
