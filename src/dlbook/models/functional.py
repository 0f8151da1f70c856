"""A Keras functional model from a YAML graph, read like the book's chapter-7 listings.

The config names the model's ``inputs`` (shape, dtype), its ``layers`` (each a ``_target_``, made
once: a layer used by two nodes is *shared*, with one set of weights, as book 7.1.5's siamese LSTM),
the ``graph`` (node -> the layer it applies and the nodes or inputs it reads) and the ``outputs``
(node names). The model is ``keras.Model(inputs={name: Input}, outputs={node: tensor})``, so
per-output losses, metrics, loss weights and targets are keyed by node name (book 7.1.3).

Book 7.1.2, the two-input question-answering model::

    inputs:
      text: {shape: [null], dtype: int32}
      question: {shape: [null], dtype: int32}
    layers:
      text_embedding: {_target_: keras.layers.Embedding, input_dim: 10000, output_dim: 64}
      ...
    graph:
      embedded_text: {layer: text_embedding, inputs: [text]}
      ...
      answer: {layer: answer, inputs: [concatenated]}
    outputs: [answer]

The whole config is checked (references, cycles, shapes given by the data) before any Keras object
is built; a Keras error while wiring a node is re-raised naming the node and its incoming shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from dlbook.errors import ConfigError

GRAPH_NODE_KEYS = {"layer", "inputs", "output"}


def build_functional(
    input_shape: Sequence[int | None] | Mapping[str, Sequence[int | None]] | None = None,
    inputs: Mapping[str, Any] | None = None,
    layers: Mapping[str, Any] | None = None,
    graph: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | None = None,
    name: str = "functional",
    data=None,
):
    """The ``keras.Model`` of the graph, with named inputs and one named output per ``outputs`` entry.

    ``input_shape`` is the data's (a tuple for one input, or a dict of shapes by input name); an
    input declared without a shape takes the data's, and a declared shape must agree with it
    (``null`` dimensions match any size). ``None`` (a graph used as a layer of another) uses the
    declared shapes only. ``data`` reaches layer factories whose ``_target_`` takes it.
    """
    declared = _check_inputs(inputs)
    layer_configs = _check_layers(layers, declared)
    nodes = _check_graph(graph, declared, layer_configs)
    output_names = _check_outputs(outputs, nodes)
    shapes = _input_shapes(declared, input_shape)
    order = _topological_order(nodes, declared)
    needed = _ancestors(output_names, nodes)

    import keras

    tensors: dict[str, Any] = {
        input_name: keras.Input(shape=shapes[input_name], dtype=declared[input_name]["dtype"], name=input_name)
        for input_name in declared
    }
    model_inputs = dict(tensors)
    built_layers: dict[str, Any] = {}
    for node in order:
        if node not in needed:
            continue  # a node no output depends on (an alternative branch): not built
        spec = nodes[node]
        layer_name = spec["layer"]
        if layer_name not in built_layers:
            # One instance per layer name: every node that names it shares its weights.
            built_layers[layer_name] = _make_layer(layer_name, layer_configs[layer_name], data)
        tensors[node] = _call(node, spec, built_layers[layer_name], [tensors[source] for source in spec["inputs"]])
    return keras.Model(inputs=model_inputs, outputs={output: tensors[output] for output in output_names}, name=name)


def _mapping(value: Any, key: str, example: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"model.{key}={value!r} is not valid: a non-empty mapping of names, e.g. {example}")
    return value


def _check_inputs(inputs: Any) -> dict[str, dict[str, Any]]:
    """``{name: {"shape": tuple or None, "dtype": str}}`` of the declared inputs."""
    inputs = _mapping(inputs, "inputs", "{text: {shape: [null], dtype: int32}}")
    declared: dict[str, dict[str, Any]] = {}
    for input_name, spec in inputs.items():
        spec = {} if spec is None else spec
        if not isinstance(spec, Mapping) or set(spec) - {"shape", "dtype"}:
            raise ConfigError(
                f"model.inputs.{input_name}={spec!r} is not valid: give `shape` (a list, null for a variable "
                "length, e.g. [null]) and `dtype` (e.g. int32; default float32)."
            )
        shape = spec.get("shape")
        if shape is not None:
            if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
                shape = _invalid_shape(input_name, shape)
            for size in shape:
                if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
                    _invalid_shape(input_name, shape)
            shape = tuple(shape)
        declared[str(input_name)] = {"shape": shape, "dtype": str(spec.get("dtype") or "float32")}
    return declared


def _invalid_shape(input_name: str, shape: Any):
    raise ConfigError(
        f"model.inputs.{input_name}.shape={shape!r} is not valid: a list of positive sizes or null "
        "(any length), e.g. [null] for a word sequence or [64, 64, 3] for an image."
    )


def _check_layers(layers: Any, declared: Mapping[str, Any]) -> Mapping[str, Any]:
    layers = _mapping(layers, "layers", "{encoder: {_target_: keras.layers.LSTM, units: 32}}")
    for layer_name, layer in layers.items():
        if not isinstance(layer, Mapping) or "_target_" not in layer:
            raise ConfigError(
                f"model.layers.{layer_name}={layer!r} is not valid: each layer needs a `_target_` "
                "(e.g. keras.layers.LSTM, or keras.applications.Xception for a whole model) and its arguments."
            )
        if layer_name in declared:
            # Keras needs unique layer names, and the inputs are layers too.
            raise ConfigError(f"model.layers.{layer_name} is not valid: an input has the same name; rename the layer.")
    return layers


def _check_graph(graph: Any, declared: Mapping[str, Any], layers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{node: {"layer": name, "inputs": [names], "output": key or None}}``, every reference checked."""
    graph = _mapping(graph, "graph", "{encoded: {layer: encoder, inputs: [text]}}")
    nodes: dict[str, dict[str, Any]] = {}
    for node, spec in graph.items():
        node = str(node)
        if node in declared:
            raise ConfigError(f"model.graph.{node} is not valid: an input has the same name; rename the node.")
        if not isinstance(spec, Mapping) or "layer" not in spec or set(spec) - GRAPH_NODE_KEYS:
            raise ConfigError(
                f"model.graph.{node}={spec!r} is not valid: give `layer` (a name under model.layers) and "
                "`inputs` (names of inputs or other nodes), e.g. {layer: encoder, inputs: [text]}."
            )
        layer_name = spec["layer"]
        if layer_name not in layers:
            raise ConfigError(
                f"model.graph.{node}.layer={layer_name} is not valid: no such layer; the layers are "
                f"{', '.join(map(str, layers))}."
            )
        sources = spec.get("inputs")
        sources = [sources] if isinstance(sources, str) else sources
        if not isinstance(sources, Sequence) or not sources:
            raise ConfigError(
                f"model.graph.{node}.inputs={sources!r} is not valid: a non-empty list of input or node names."
            )
        sources = [str(source) for source in sources]
        for source in sources:
            if source not in declared and source not in graph:
                raise ConfigError(
                    f"model.graph.{node}.inputs: {source} is not valid: no such input or node; the inputs are "
                    f"{', '.join(declared)} and the nodes {', '.join(map(str, graph))}."
                )
            if source == node:
                raise ConfigError(f"model.graph.{node}.inputs: the node reads itself (a cycle).")
        nodes[node] = {"layer": str(layer_name), "inputs": sources, "output": spec.get("output")}
    return nodes


def _check_outputs(outputs: Any, nodes: Mapping[str, Any]) -> list[str]:
    outputs = [outputs] if isinstance(outputs, str) else outputs
    if not isinstance(outputs, Sequence) or not outputs:
        raise ConfigError(f"model.outputs={outputs!r} is not valid: a non-empty list of node names, e.g. [answer].")
    for output in outputs:
        if output not in nodes:
            raise ConfigError(f"model.outputs: {output} is not valid: no such node; the nodes are {', '.join(nodes)}.")
    if len(set(outputs)) != len(outputs):
        raise ConfigError(f"model.outputs={list(outputs)} is not valid: a node is listed twice.")
    return [str(output) for output in outputs]


def _input_shapes(declared: Mapping[str, Mapping[str, Any]], input_shape: Any) -> dict[str, tuple]:
    """Each input's shape: the declared one, checked against (or completed from) the data's."""
    if input_shape is None:
        given: dict[str, Any] = {}
    elif isinstance(input_shape, Mapping):
        given = {str(key): value for key, value in input_shape.items()}
        missing = [name for name in declared if name not in given]
        if missing:
            raise ConfigError(
                f"model.inputs.{missing[0]} is not valid for this dataset: its examples have no feature named "
                f"{missing[0]} (they have {', '.join(given) or 'none'}). Name the inputs after the dataset's features."
            )
    elif len(declared) == 1:
        given = {next(iter(declared)): input_shape}
    else:
        raise ConfigError(
            f"model.inputs={', '.join(declared)} is not valid for this dataset: the model has several inputs but "
            f"the dataset gives one array of shape {tuple(input_shape)}; use a dataset with named features."
        )
    shapes: dict[str, tuple] = {}
    for input_name, spec in declared.items():
        shape = spec["shape"]
        data_shape = given.get(input_name)
        if data_shape is not None:
            data_shape = tuple(data_shape)
            if shape is not None and not _compatible(shape, data_shape):
                raise ConfigError(
                    f"model.inputs.{input_name}.shape={list(shape)} is not valid for this dataset: its "
                    f"{input_name} examples have shape {list(data_shape)} (null matches any size)."
                )
            shape = shape or data_shape
        if shape is None:
            raise ConfigError(
                f"model.inputs.{input_name}.shape is missing: give it (e.g. [null]), the dataset does not."
            )
        shapes[input_name] = tuple(shape)
    return shapes


def _compatible(declared: tuple, actual: tuple) -> bool:
    return len(declared) == len(actual) and all(
        size is None or other is None or size == other for size, other in zip(declared, actual, strict=True)
    )


def _topological_order(nodes: Mapping[str, Mapping[str, Any]], declared: Mapping[str, Any]) -> list[str]:
    """Nodes so that each comes after those it reads (the YAML order need not be); cycles are errors."""
    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" on the current path, "done" once ordered

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            cycle = path[path.index(node) :] + [node]
            raise ConfigError(
                f"model.graph.{node} is not valid: it is part of a cycle ({' -> '.join(cycle)}); "
                "a node may only read inputs and nodes that do not depend on it."
            )
        state[node] = "visiting"
        for source in nodes[node]["inputs"]:
            if source not in declared:
                visit(source, [*path, node])
        state[node] = "done"
        order.append(node)

    for node in nodes:
        visit(node, [])
    return order


def _ancestors(outputs: Sequence[str], nodes: Mapping[str, Mapping[str, Any]]) -> set[str]:
    needed: set[str] = set()
    pending = list(outputs)
    while pending:
        node = pending.pop()
        if node in needed or node not in nodes:
            continue
        needed.add(node)
        pending.extend(nodes[node]["inputs"])
    return needed


def _make_layer(layer_name: str, layer: Mapping[str, Any], data):
    """The layer (or model) of ``layer``'s ``_target_``, named after its key unless the config names it."""
    from hydra.utils import get_method, instantiate

    target = get_method(layer["_target_"]) if isinstance(layer["_target_"], str) else layer["_target_"]
    parameters = _parameters(target)
    module = getattr(target, "__module__", "") or ""
    if module.startswith("dlbook.models."):
        # A dlbook builder (a nested graph or stack): it builds its own layers from config, and its
        # input shape comes from its own config (None: the declared inputs of a nested graph).
        arguments: dict[str, Any] = {}
        if "input_shape" in parameters and "input_shape" not in layer:
            arguments["input_shape"] = None
        if "data" in parameters:
            arguments["data"] = data
        if "name" in parameters and "name" not in layer:
            arguments["name"] = layer_name
        return instantiate(layer, _partial_=True, _recursive_=False)(**arguments)
    if "data" in parameters:
        # A layer factory that needs the dataset (e.g. GloVe embeddings), as in models.sequential.
        return instantiate(layer, _partial_=True, _recursive_=False)(data=data)
    takes_name = "name" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in _signature_parameters(target)
    )
    if takes_name and "name" not in layer:
        return instantiate(layer, name=layer_name)
    return instantiate(layer)


def _call(node: str, spec: Mapping[str, Any], layer, sources: list):
    """``layer(sources)``; a Keras error becomes a ConfigError naming the node and its incoming shapes."""
    argument = sources[0] if len(sources) == 1 else sources
    try:
        result = layer(argument)
    except Exception as error:  # noqa: BLE001 - Keras raises ValueError, TypeError, ... for bad wiring
        shapes = ", ".join(
            f"{source} {tuple(tensor.shape)}" for source, tensor in zip(spec["inputs"], sources, strict=True)
        )
        raise ConfigError(
            f"model.graph.{node} is not valid: layer {spec['layer']} cannot take its inputs ({shapes}): {error}"
        ) from error
    return _select(node, spec, result)


def _select(node: str, spec: Mapping[str, Any], result):
    """One tensor of a layer's result: a model used as a layer may return a dict or list of outputs."""
    output = spec.get("output")
    if isinstance(result, Mapping):
        if output is None and len(result) == 1:
            return next(iter(result.values()))
        if output not in result:
            raise ConfigError(
                f"model.graph.{node}.output={output!r} is not valid: layer {spec['layer']} returns several "
                f"outputs; pick one of {', '.join(map(str, result))}."
            )
        return result[output]
    if isinstance(result, (list, tuple)):
        if output is None and len(result) == 1:
            return result[0]
        if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < len(result):
            raise ConfigError(
                f"model.graph.{node}.output={output!r} is not valid: layer {spec['layer']} returns "
                f"{len(result)} outputs; pick one by index, 0 to {len(result) - 1}."
            )
        return result[output]
    if output is not None:
        raise ConfigError(
            f"model.graph.{node}.output={output!r} is not valid: layer {spec['layer']} returns one output; "
            "remove `output`."
        )
    return result


def _signature_parameters(target) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []


def _parameters(target) -> set[str]:
    return {parameter.name for parameter in _signature_parameters(target)}
