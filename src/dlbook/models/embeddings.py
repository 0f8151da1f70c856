"""Embedding layers over a dataset's vocabulary: pretrained GloVe vectors (book 6.1b(ii)) or learned."""

from __future__ import annotations

from dlbook.errors import ConfigError


def vocabulary_embedding(
    data,
    weights: str | None,
    output_dim: int | None = None,
    trainable: bool = False,
    name: str = "embedding",
):
    """An ``Embedding`` over the dataset's vocabulary: GloVe vectors, frozen (book listing 6.10), or learned.

    ``data.info["vocabulary"]`` lists the tokens by index (the tokenizer's order). ``weights="glove"``
    takes the matrix the dataset hands over in ``data.info["embedding_matrix"]`` (its pretrained vectors,
    ``dataset.pretrained_vectors``) and freezes it unless ``trainable``; ``weights=null`` is an ordinary
    trainable embedding of ``output_dim`` (the book's comparison model). The model never reads a file.
    """
    import keras

    vocabulary = data.info.get("vocabulary") if data is not None else None
    if not vocabulary:
        raise ConfigError(
            "model.layers: vocabulary_embedding needs a dataset with a vocabulary (e.g. dataset=imdb_text); "
            f"this dataset ({getattr(data, 'source', '?')}) has none."
        )
    if weights is None:
        if not output_dim:
            raise ConfigError("embedding.weights=null needs the layer's output_dim (e.g. 100).")
        return keras.layers.Embedding(len(vocabulary), output_dim, name=name)
    if weights != "glove":
        raise ConfigError(f"embedding.weights={weights} is not valid: glove (pretrained vectors) or null (learned).")
    vectors = data.info.get("embedding_matrix")
    if vectors is None:
        raise ConfigError(
            "embedding.weights=glove needs pretrained vectors from the dataset: set dataset.pretrained_vectors "
            "(e.g. dataset.pretrained_vectors='${embedding.glove}', as experiment=imdb_glove does), or use "
            "embedding.weights=null for a learned embedding."
        )
    matrix = vectors() if callable(vectors) else vectors
    if output_dim is not None and output_dim != matrix.shape[1]:
        raise ConfigError(
            f"vocabulary_embedding output_dim={output_dim} does not match the GloVe file's dimension "
            f"{matrix.shape[1]}; leave output_dim null to take the file's."
        )
    return keras.layers.Embedding(
        len(vocabulary),
        matrix.shape[1],
        embeddings_initializer=keras.initializers.Constant(matrix),
        trainable=trainable,
        name=name,
    )
