"""`dlbook train experiment=imdb_tensorboard` (book 7.2.2) writes histograms, the graph and the projector."""

from __future__ import annotations

import csv

import numpy as np
from cli_runner import read, run_dirs, run_dlbook
from fakes import write_imdb_npz


def _tags(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return set(events.Tags()["tensors"])


def test_imdb_tensorboard_writes_histograms_graph_projector_activations_and_learning_rate(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=400, n_test=100, max_word=1500)
    # The experiment's own callbacks (default + tensorboard_full) composed with two more presets.
    result = run_dlbook(
        "train",
        "experiment=imdb_tensorboard",
        "debug=fast",
        f"dataset.path={data}",
        "callbacks=[default,tensorboard_full,activation_logger,learning_rate]",
        "callbacks.embedding_projector.layers=[embed]",
        "callbacks.activation_logger.layers=[embed,dense]",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "imdb_tensorboard")
    assert read(run_dir / "status.json")["status"] == "completed"
    logs = run_dir / "tensorboard" / "fit"

    train_tags = _tags(logs / "train")
    assert "keras" in train_tags  # the model graph (TensorBoard's Graphs tab, Keras conceptual graph)
    assert "imdb_tensorboard/embed/embeddings/histogram" in train_tags
    assert any(tag.endswith("kernel/histogram") for tag in train_tags if "conv1d" in tag)
    assert "epoch_learning_rate" in train_tags

    projector = logs / "projector"
    config = (projector / "projector_config.pbtxt").read_text()
    assert 'metadata_path: "metadata.tsv"' in config and 'tensor_name: "embed/.ATTRIBUTES/VARIABLE_VALUE"' in config
    assert len((projector / "metadata.tsv").read_text().splitlines()) == 2000
    assert (projector / "checkpoint").is_file()

    with np.load(run_dir / "activations" / "fit" / "epoch_001.npz") as saved:
        assert saved["embed"].shape == (1, 500, 128)
        assert saved["dense"].shape == (1, 1)
    with open(run_dir / "history.csv", newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert float(row["learning_rate"]) > 0


def test_imdb_tensorboard_composes_its_callbacks(tmp_path):
    result = run_dlbook("train", "experiment=imdb_tensorboard", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    from omegaconf import OmegaConf

    callbacks = OmegaConf.create(result.stdout).callbacks
    assert callbacks.tensorboard.histogram_freq == 1 and callbacks.tensorboard.write_graph is True
    assert list(callbacks.embedding_projector.layers) == ["embed"]
