"""Benchmark: `dlbook runs` on 1,000 run folders.

Writes 1,000 run directories as `dlbook train` leaves them (status.json, metrics.json, provenance.json,
.hydra/overrides.yaml and config.yaml; single runs and sweep jobs of four experiments, completed, failed
and interrupted, some tagged) into a temporary outputs folder, then times, in fresh processes as a user
types them: `dlbook runs <folder>` (the whole table), `dlbook runs <folder> experiment=imdb tag=baseline
sort=test.accuracy limit=20` (filtered and sorted) and `dlbook --help` (the command's floor: Python and
dlbook's start-up). Each figure is the median over interleaved repetitions. Also checked once: the
command imports neither TensorFlow nor Keras.

Usage: python bench/runs_table.py [--runs 1000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPERIMENTS = {
    "imdb": ("test.accuracy", 0.88, [0.85, 0.91]),
    "reuters": ("test.accuracy", 0.78, [0.75, 0.81]),
    "boston_housing": ("test.mae", 2.55, [0.0, 3.0]),
    "mnist_convnet": ("test.accuracy", 0.991, [0.985, 1.0]),
}
IMPORT_CHECK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('IMPORTED=' + ','.join(m for m in ('tensorflow', 'keras') if m in sys.modules),"
    " file=sys.stderr))\n"
    "from dlbook.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def write_json(path: Path, content) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_run(run_dir: Path, experiment: str, number: int, overrides: list[str], rng: random.Random) -> None:
    """One run directory with the files `dlbook runs` reads, plus its composed config (for `runs diff`)."""
    metric, book, band = EXPERIMENTS[experiment]
    (run_dir / ".hydra").mkdir(parents=True)
    status = rng.choices(["completed", "failed", "interrupted"], weights=[8, 1, 1])[0]
    started = f"2026-11-{1 + number % 28:02d}T{number % 24:02d}:{number % 60:02d}:00.000000+00:00"
    record = {"status": status, "experiment": experiment, "started": started, "ended": started}
    if number % 5 == 0:
        record["tags"] = ["baseline"] if number % 10 == 0 else ["lr-study", "baseline"]
    if status == "failed":
        record["error"] = {"type": "ValueError", "message": "a generated failure"}
    write_json(run_dir / "status.json", record)
    if status == "completed":
        value = rng.uniform(band[0], band[1] * 1.02)
        split, name = metric.split(".")
        write_json(
            run_dir / "metrics.json",
            {
                "data": "generated",
                split: {name: value, "loss": rng.uniform(0.1, 0.5)},
                "val": {name: value, "loss": rng.uniform(0.1, 0.5), "loss_epoch": 4},
                "reference": {
                    "metric": metric,
                    "book": book,
                    "band": band,
                    "value": value,
                    "reproduced": band[0] <= value <= band[1],
                    "note": None,
                },
            },
        )
    write_json(
        run_dir / "provenance.json",
        {
            "python": "3.11.9",
            "versions": {"dlbook": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"},
            "devices": ["/physical_device:CPU:0"],
            "experiment": experiment,
            "backend": {"name": "tensorflow", "version": "2.21.0", "devices": ["/device:CPU:0"]},
            "command": "dlbook train " + " ".join(overrides),
        },
    )
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {item}\n" for item in overrides))
    config = [f"name: {experiment}", f"seed: {number % 3}", "trainer:", "  epochs: 20", "  batch_size: 512"]
    config += [f"  key_{index}: {index}" for index in range(60)]
    (run_dir / ".hydra" / "config.yaml").write_text("\n".join(config) + "\n")


def write_outputs(outputs: Path, count: int) -> None:
    """``count`` run folders: a quarter single runs, the rest sweep jobs of 10 jobs each."""
    rng = random.Random(0)
    experiments = list(EXPERIMENTS)
    number = 0
    while number < count:
        experiment = experiments[number % len(experiments)]
        if number % 40 < 10:
            overrides = [f"experiment={experiment}", f"seed={number % 3}"]
            write_run(outputs / experiment / f"2026-11-01_00-00-00_{number:06d}", experiment, number, overrides, rng)
            number += 1
            continue
        sweep = outputs / "multirun" / experiment / f"2026-11-02_00-00-00_{number:06d}"
        for job in range(min(10, count - number)):
            overrides = [f"experiment={experiment}", f"model.units={16 * (1 + job % 4)}", f"seed={job // 4}"]
            write_run(sweep / str(job), experiment, number, overrides, rng)
            number += 1


def dlbook_command() -> list[str]:
    script = Path(sys.executable).with_name("dlbook")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dlbook"]


def wall_seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        outputs = workdir / "outputs"
        write_outputs(outputs, options.runs)
        commands = {
            "runs_all": [*dlbook_command(), "runs", "outputs"],
            "runs_filtered": [
                *dlbook_command(),
                "runs",
                "outputs",
                "experiment=imdb",
                "tag=baseline",
                "sort=test.accuracy",
                "limit=20",
            ],
            "help": [*dlbook_command(), "--help"],
        }
        listed = subprocess.run(commands["runs_all"], cwd=workdir, check=True, capture_output=True, text=True)
        rows = len(listed.stdout.strip().splitlines()) - 4  # heading, blank line, header, rule
        checked = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK, "runs", "outputs"], cwd=workdir, capture_output=True, text=True
        )
        imported = next(
            (line.split("=", 1)[1] for line in checked.stderr.splitlines() if line.startswith("IMPORTED=")), "?"
        )
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.repeats):
            for name, command in commands.items():  # interleaved: a slow moment hits every command alike
                times[name].append(wall_seconds(command, workdir))
    result = {
        "benchmark": "runs_table",
        "run_folders": options.runs,
        "rows_listed": rows,
        "repeats": options.repeats,
        "imports_tensorflow_or_keras": imported or "neither",
        **{f"{name}_seconds": statistics.median(values) for name, values in times.items()},
        **{f"{name}_min_max_seconds": [min(values), max(values)] for name, values in times.items()},
    }
    result["runs_all_minus_help_seconds"] = result["runs_all_seconds"] - result["help_seconds"]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "runs_table.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
