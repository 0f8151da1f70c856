"""Benchmark: peak memory (RSS) of `dlbook train experiment=imdb` against the book's plain script, same file.

Both sides read one generated full-size IMDB file (25,000 + 25,000 reviews of about 230 words) and run
the book's 3.5 protocol with the epochs capped at --epochs (default 2) on both: fit on 15,000 reviews
validating on 10,000, retrain a fresh model on all 25,000, evaluate on the test set. The plain script
(bench/plain_imdb_dense.py) builds the book's float64 multi-hot arrays (2 x 25,000 x 10,000 x 8 bytes
= 4.0 GB); dlbook builds them batch by batch in its tf.data pipeline. dlbook runs with its default
callbacks, as a user types it. The peak RSS of each process comes from the kernel (`os.wait4`'s
ru_maxrss); runs are interleaved, the figure per side is the median over the rounds (goal: dlbook at
most half of the plain script).

Usage: python bench/memory.py [--rounds 2] [--epochs 2]
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

from runner_overhead import write_imdb_dense
from startup import dlbook_command

HERE = Path(__file__).resolve().parent
BOOK_ARRAYS_MIB = 2 * 25_000 * 10_000 * 8 / 2**20


def peak_rss_mib(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run ``command`` to its end (it must succeed) and return its peak resident memory in MiB."""
    with open(cwd / "stderr.txt", "w+", encoding="utf-8", errors="replace") as errors:
        # A file rather than a pipe: a child that prints much would block on a full pipe that nobody reads.
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        # wait4 gives this one child's resource usage (getrusage(RUSAGE_CHILDREN) would mix every child's).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}):\n{errors.read()[-3000:]}")
    return usage.ru_maxrss / 1024  # Linux reports kilobytes (KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the fit and of the retrain, both sides")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory.json")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        env = dict(os.environ, KERAS_HOME=str(workdir / "keras_home"))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        data = workdir / "imdb.npz"
        write_imdb_dense(data)
        epochs = str(options.epochs)
        commands = {
            "plain": [sys.executable, str(HERE / "plain_imdb_dense.py"), str(data), epochs, epochs],
            "dlbook": [
                *dlbook_command(),
                "train",
                "experiment=imdb",
                f"dataset.path={data}",
                f"trainer.epochs={epochs}",
                f"task.retrain.epochs={epochs}",
                f"paths.output_dir={workdir / 'outputs'}",
            ],
        }
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        for round_index in range(options.rounds):
            for name, command in commands.items():
                peaks[name].append(peak_rss_mib(command, env, workdir))
            print(
                f"round {round_index + 1}: plain {peaks['plain'][-1]:,.0f} MiB, dlbook {peaks['dlbook'][-1]:,.0f} MiB"
            )

    plain, ours = statistics.median(peaks["plain"]), statistics.median(peaks["dlbook"])
    result = {
        "benchmark": "memory: peak RSS of the IMDB 3.5 run (MiB), dlbook vs the book's plain Keras script",
        "dlbook_peak_rss_mib": round(ours),
        "plain_peak_rss_mib": round(plain),
        "ratio_dlbook_over_plain": round(ours / plain, 3),
        "book_float_arrays_mib": round(BOOK_ARRAYS_MIB),
        "all_mib": {name: [round(value) for value in values] for name, values in peaks.items()},
        "protocol": f"fit {epochs} epochs (15,000 reviews, validation 10,000), retrain {epochs} epochs on 25,000, test",
        "rounds": options.rounds,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
