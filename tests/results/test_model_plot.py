"""plot_model_png draws the model when Graphviz is there and never fails a run when it is not."""

from __future__ import annotations

import pytest

from dlbook.results import model_plot


def _model():
    import keras

    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, name="dense")])


def test_without_graphviz_it_returns_a_note_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(model_plot, "graphviz_available", lambda: False)
    note = model_plot.plot_model_png(_model(), tmp_path / "model.png")
    assert note == "graphviz not installed: apt-get install graphviz and pip install pydot"
    assert not (tmp_path / "model.png").exists()


def test_a_failing_plot_model_is_a_note_not_an_error(tmp_path, monkeypatch):
    import keras

    def broken(*arguments, **keywords):
        raise OSError("dot crashed")

    monkeypatch.setattr(model_plot, "graphviz_available", lambda: True)
    monkeypatch.setattr(keras.utils, "plot_model", broken)
    note = model_plot.plot_model_png(_model(), tmp_path / "model.png")
    assert note.startswith("model plot not written") and "dot crashed" in note


@pytest.mark.skipif(not model_plot.graphviz_available(), reason="pydot and Graphviz are not installed")
def test_with_graphviz_it_writes_a_png(tmp_path):
    path = tmp_path / "plots" / "model.png"
    note = model_plot.plot_model_png(_model(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(path) in note
