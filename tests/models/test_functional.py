"""The functional-graph builder: the book's chapter-7 models from YAML graphs, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from dlbook.errors import ConfigError
from dlbook.models.functional import build_functional

QA = """
inputs:
  text: {shape: [null], dtype: int32}
  question: {shape: [null], dtype: int32}
layers:
  text_embedding: {_target_: keras.layers.Embedding, input_dim: 10000, output_dim: 64}
  text_encoder: {_target_: keras.layers.LSTM, units: 32}
  question_embedding: {_target_: keras.layers.Embedding, input_dim: 10000, output_dim: 32}
  question_encoder: {_target_: keras.layers.LSTM, units: 16}
  concatenate: {_target_: keras.layers.Concatenate, axis: -1}
  answer: {_target_: keras.layers.Dense, units: 500, activation: softmax}
graph:
  answer: {layer: answer, inputs: [concatenated]}  # before its inputs: resolved by name
  embedded_text: {layer: text_embedding, inputs: [text]}
  encoded_text: {layer: text_encoder, inputs: [embedded_text]}
  embedded_question: {layer: question_embedding, inputs: question}
  encoded_question: {layer: question_encoder, inputs: [embedded_question]}
  concatenated: {layer: concatenate, inputs: [encoded_text, encoded_question]}
outputs: [answer]
"""

SIAMESE = """
inputs:
  left: {shape: [null, 8]}
  right: {shape: [null, 8]}
layers:
  lstm: {_target_: keras.layers.LSTM, units: 4}
  concatenate: {_target_: keras.layers.Concatenate}
  same: {_target_: keras.layers.Dense, units: 1, activation: sigmoid}
graph:
  left_encoded: {layer: lstm, inputs: [left]}
  right_encoded: {layer: lstm, inputs: [right]}
  merged: {layer: concatenate, inputs: [left_encoded, right_encoded]}
  same: {layer: same, inputs: [merged]}
outputs: [same]
"""


def config(text: str, **changes):
    cfg = OmegaConf.to_container(OmegaConf.create(text))
    cfg.update(changes)
    return cfg


def multi_output_config() -> dict:
    conv = {"_target_": "keras.layers.Conv1D", "filters": 256, "kernel_size": 5, "activation": "relu"}
    layers = {
        "embedding": {"_target_": "keras.layers.Embedding", "input_dim": 50000, "output_dim": 256},
        "conv_1": {**conv, "filters": 128},
        "pool_1": {"_target_": "keras.layers.MaxPooling1D", "pool_size": 5},
        "conv_2": conv,
        "conv_3": conv,
        "pool_2": {"_target_": "keras.layers.MaxPooling1D", "pool_size": 5},
        "conv_4": conv,
        "conv_5": conv,
        "global_pool": {"_target_": "keras.layers.GlobalMaxPooling1D"},
        "dense": {"_target_": "keras.layers.Dense", "units": 128, "activation": "relu"},
        "age": {"_target_": "keras.layers.Dense", "units": 1},
        "income": {"_target_": "keras.layers.Dense", "units": 10, "activation": "softmax"},
        "gender": {"_target_": "keras.layers.Dense", "units": 1, "activation": "sigmoid"},
    }
    chain = ["embedding", "conv_1", "pool_1", "conv_2", "conv_3", "pool_2", "conv_4", "conv_5", "global_pool", "dense"]
    graph, previous = {}, "posts"
    for name in chain:
        graph[name] = {"layer": name, "inputs": [previous]}
        previous = name
    for head in ("age", "income", "gender"):
        graph[head] = {"layer": head, "inputs": ["dense"]}
    return {
        "inputs": {"posts": {"shape": [None], "dtype": "int32"}},
        "layers": layers,
        "graph": graph,
        "outputs": ["age", "income", "gender"],
    }


def test_question_answering_has_the_books_parameter_count_and_named_inputs():
    model = build_functional(input_shape={"text": (100,), "question": (100,)}, **config(QA))
    assert model.count_params() == 1_000_052
    outputs = model({"text": np.ones((2, 7), "int32"), "question": np.ones((2, 5), "int32")})
    assert set(outputs) == {"answer"}
    assert tuple(outputs["answer"].shape) == (2, 500)


def test_multi_output_has_the_books_parameter_count_and_three_named_outputs():
    model = build_functional(input_shape=None, name="multi", **multi_output_config())
    assert model.count_params() == 14_146_316
    outputs = model({"posts": np.ones((1, 300), "int32")})
    assert {name: tuple(tensor.shape) for name, tensor in outputs.items()} == {
        "age": (1, 1),
        "income": (1, 10),
        "gender": (1, 1),
    }


def test_a_layer_used_by_two_nodes_is_one_shared_instance():
    model = build_functional(input_shape=None, **config(SIAMESE))
    lstms = [layer for layer in model.layers if layer.name == "lstm"]
    assert len(lstms) == 1
    # One LSTM's weights (kernel, recurrent kernel, bias) only, though two branches use it.
    assert len(lstms[0].weights) == 3
    assert model.count_params() == 4 * (4 * (8 + 4) + 4) + (8 + 1)
    sequence = np.random.default_rng(0).random((1, 3, 8)).astype("float32")
    # Swapping the sentences swaps the two halves of the merged encoding: the same weights read both.
    encoder = __import__("keras").Model(model.inputs, model.get_layer("concatenate").output)
    forward = np.asarray(encoder({"left": sequence, "right": sequence * 0}))
    backward = np.asarray(encoder({"left": sequence * 0, "right": sequence}))
    np.testing.assert_allclose(forward[:, :4], backward[:, 4:], rtol=1e-5)


def test_a_model_can_be_a_layer():
    cfg = config(
        SIAMESE,
        layers={
            "encoder": {
                "_target_": "dlbook.models.functional.build_functional",
                "inputs": {"sequence": {"shape": [None, 8]}},
                "layers": {"lstm": {"_target_": "keras.layers.LSTM", "units": 4}},
                "graph": {"encoded": {"layer": "lstm", "inputs": ["sequence"]}},
                "outputs": ["encoded"],
            },
            "concatenate": {"_target_": "keras.layers.Concatenate"},
            "same": {"_target_": "keras.layers.Dense", "units": 1, "activation": "sigmoid"},
        },
    )
    cfg["graph"]["left_encoded"]["layer"] = "encoder"
    cfg["graph"]["right_encoded"]["layer"] = "encoder"
    model = build_functional(input_shape={"left": (3, 8), "right": (3, 8)}, **cfg)
    assert model.get_layer("encoder").count_params() == 4 * (4 * (8 + 4) + 4)
    assert tuple(model({"left": np.zeros((2, 3, 8)), "right": np.zeros((2, 3, 8))})["same"].shape) == (2, 1)


def test_unknown_node_is_named():
    cfg = config(QA)
    cfg["graph"]["concatenated"]["inputs"] = ["encoded_text", "encoded_questions"]
    with pytest.raises(ConfigError, match=r"model\.graph\.concatenated\.inputs: encoded_questions"):
        build_functional(**cfg)


def test_unknown_layer_is_named():
    cfg = config(QA)
    cfg["graph"]["answer"]["layer"] = "answers"
    with pytest.raises(ConfigError, match=r"model\.graph\.answer\.layer=answers"):
        build_functional(**cfg)


def test_cycle_is_named():
    cfg = config(QA)
    cfg["graph"]["embedded_text"]["inputs"] = ["encoded_text"]
    with pytest.raises(
        ConfigError,
        match=r"model\.graph\.(embedded|encoded)_text is not valid: it is part of a cycle \((embedded|encoded)_text",
    ):
        build_functional(**cfg)


def test_shape_mismatch_names_the_node_and_incoming_shapes():
    cfg = config(SIAMESE)
    cfg["layers"]["add"] = {"_target_": "keras.layers.Add"}
    cfg["graph"]["merged"] = {"layer": "add", "inputs": ["left_encoded", "left"]}
    with pytest.raises(ConfigError, match=r"model\.graph\.merged .*left_encoded \(None, 4\), left \(None, None, 8\)"):
        build_functional(**cfg)


def test_data_shape_must_agree_with_a_declared_input():
    with pytest.raises(ConfigError, match=r"model\.inputs\.left\.shape=\[None, 8\].*\[5, 9\]"):
        build_functional(input_shape={"left": (5, 9), "right": (5, 8)}, **config(SIAMESE))
    with pytest.raises(ConfigError, match=r"model\.inputs\.question .*no feature named question"):
        build_functional(input_shape={"text": (100,)}, **config(QA))
    with pytest.raises(ConfigError, match="several inputs"):
        build_functional(input_shape=(100,), **config(QA))


def test_one_input_takes_the_datas_tuple_shape():
    cfg = {
        "inputs": {"image": None},
        "layers": {"flat": {"_target_": "keras.layers.Flatten"}},
        "graph": {"flat": {"layer": "flat", "inputs": ["image"]}},
        "outputs": ["flat"],
    }
    assert tuple(build_functional(input_shape=(2, 3), **cfg).outputs[0].shape) == (None, 6)


def test_unknown_output_is_named():
    with pytest.raises(ConfigError, match=r"model\.outputs: merge is not valid"):
        build_functional(**config(SIAMESE, outputs=["merge"]))
