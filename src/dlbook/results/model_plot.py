"""A PNG drawing of a model (book 7.2.2: ``plot_model(model, to_file='model.png')``), never failing a run."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("dlbook")

MISSING_GRAPHVIZ = "graphviz not installed: apt-get install graphviz and pip install pydot"


def graphviz_available() -> bool:
    """True when pydot imports and Graphviz's ``dot`` program runs (what keras.utils.plot_model needs)."""
    try:
        import pydot
    except ImportError:
        return False
    try:
        pydot.Dot.create(pydot.Dot())
    except Exception:  # pydot raises OSError/PydotException/FileNotFoundError depending on its version
        return False
    return True


def plot_model_png(model, path: str | Path) -> str:
    """Draw ``model`` (layers, shapes) to the PNG ``path`` with keras.utils.plot_model.

    Returns a one-line note: where the PNG went, or why none was written (Graphviz or pydot missing,
    or plot_model failing); the drawing is a nicety, so it never raises.
    """
    if not graphviz_available():
        return MISSING_GRAPHVIZ
    import keras

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        keras.utils.plot_model(model, to_file=str(target), show_shapes=True, show_layer_names=True)
    except Exception as error:  # a drawing problem must not lose a trained run
        log.warning("model plot failed: %s: %s", type(error).__name__, error)
        return f"model plot not written: {type(error).__name__}: {error}"
    if not target.is_file():
        return f"model plot not written: keras.utils.plot_model wrote no {target.name}"
    return f"model plot: {target}"
