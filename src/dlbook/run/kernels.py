"""What a model will run as on the device: cuDNN or generic kernels for its recurrent layers, XLA or not.

Logged at the start of every fit, so that a slow GPU run explains itself. The cuDNN conditions are Keras 3's
own for the TensorFlow backend (``keras/src/layers/rnn/gru.py`` and ``lstm.py``, ``cudnn_ok`` in
``keras/src/backend/tensorflow/rnn.py``): ``use_cudnn`` not false, ``recurrent_dropout=0``, ``activation=tanh``,
``recurrent_activation=sigmoid``, ``unroll=False``, ``use_bias=True`` and, for a GRU, ``reset_after=True``;
and a GPU. (A mask that is not right-padded also falls back, batch by batch; that is decided at run time.)
"""

from __future__ import annotations

import logging

log = logging.getLogger("dlbook")


def _cudnn_needs(layer) -> list[str]:
    """The settings of a GRU / LSTM layer that keep it off cuDNN (empty: cuDNN can run it)."""
    import keras

    cell = layer.cell
    needs = []
    if layer.use_cudnn is False:
        needs.append("use_cudnn='auto'")
    if cell.recurrent_dropout:
        needs.append("recurrent_dropout=0")
    if keras.activations.serialize(cell.activation) != "tanh":
        needs.append("activation='tanh'")
    if keras.activations.serialize(cell.recurrent_activation) != "sigmoid":
        needs.append("recurrent_activation='sigmoid'")
    if layer.unroll:
        needs.append("unroll=False")
    if not cell.use_bias:
        needs.append("use_bias=True")
    if isinstance(layer, keras.layers.GRU) and not cell.reset_after:
        needs.append("reset_after=True")
    return needs


def recurrent_kernels(model, gpu: bool) -> list[str]:
    """One line per GRU / LSTM layer of ``model`` (nested models and Bidirectional wrappers included):
    the kernel it runs on, and for a generic kernel, what cuDNN would need."""
    import keras

    lines = []
    seen = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not isinstance(layer, (keras.layers.GRU, keras.layers.LSTM)) or id(layer) in seen:
            continue
        seen.add(id(layer))
        kind = "GRU" if isinstance(layer, keras.layers.GRU) else "LSTM"
        needs = _cudnn_needs(layer)
        if needs:
            lines.append(f"{kind} '{layer.name}': generic kernel, cuDNN needs {', '.join(needs)}")
        elif gpu:
            lines.append(f"{kind} '{layer.name}': cuDNN kernel")
        else:
            lines.append(f"{kind} '{layer.name}': generic kernel (no GPU; on a GPU it would run on cuDNN)")
    return lines


def log_kernels(model, phase: str) -> list[str]:
    """Log, at the start of a fit, the recurrent layers' kernels and whether XLA compiles the steps."""
    from dlbook.run.runtime import devices_in_use

    gpu = bool(devices_in_use()["gpus"])
    lines = recurrent_kernels(model, gpu)
    # Keras resolves jit_compile="auto" at compile time: XLA only where every layer supports it (a cuDNN
    # recurrent layer does not) and op determinism is off.
    lines.append(f"XLA (trainer.jit_compile): {'on' if getattr(model, 'jit_compile', False) else 'off'}")
    for line in lines:
        log.info("%s: %s", phase, line)
    return lines
