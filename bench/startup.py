"""Benchmark: start-up. How long dlbook takes before it does anything, against the book's plain script.

1. Wall time of `dlbook --help` and `dlbook train --cfg job experiment=imdb` (fresh processes, interleaved);
   both must answer without importing TensorFlow, which is checked once each (`tensorflow_imported`).
   For scale: `python -c "import tensorflow, keras"`, the floor of any command that trains.
2. Time to the first training step: from starting `dlbook train experiment=imdb dataset.path=<file>` to its
   first `on_train_batch_begin`, against the same of bench/plain_imdb_dense.py (the book's 3.5 listing) on
   the same full-size generated IMDB file (25,000 + 25,000 reviews). Both are timed by one callback,
   bench/first_step/first_step.py, which dlbook gets as a config (`+callbacks.first_step=...`), and
   which ends the process at that step. dlbook runs with its default callbacks, as a user types it.

Each figure is the median over interleaved repetitions (min and max are kept too).

Usage: python bench/startup.py [--repeats 7] [--first-step-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner_overhead import write_imdb_dense

HERE = Path(__file__).resolve().parent
FIRST_STEP = HERE / "first_step"
# Runs the `dlbook` command in this process and says at exit whether TensorFlow was imported on the way.
IMPORT_CHECK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('TENSORFLOW_IMPORTED=' + str('tensorflow' in sys.modules), file=sys.stderr))\n"
    "from dlbook.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def dlbook_command() -> list[str]:
    """The installed `dlbook` script beside this Python (what users type), else `python -m dlbook`."""
    script = Path(sys.executable).with_name("dlbook")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dlbook"]


def environment(workdir: Path) -> dict[str, str]:
    """The children's environment: quiet TensorFlow, a private Keras cache, the first-step callback importable."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["KERAS_HOME"] = str(workdir / "keras_home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIRST_STEP), os.environ.get("PYTHONPATH", "")]))
    return env


def wall_seconds(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of one fresh process running ``command`` to its end (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def imports_tensorflow(arguments: list[str], env: dict[str, str], cwd: Path) -> bool:
    """Whether `dlbook <arguments>` imports TensorFlow (checked in a separate, untimed process)."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, *arguments], env=env, cwd=cwd, capture_output=True, text=True
    )
    for answer in ("True", "False"):
        if f"TENSORFLOW_IMPORTED={answer}" in done.stderr:
            return answer == "True"
    raise SystemExit(f"dlbook {' '.join(arguments)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def seconds_to_first_step(command: list[str], marker: Path, env: dict[str, str], cwd: Path) -> float:
    """From starting ``command`` to the time its FirstStep callback wrote into ``marker``."""
    marker.unlink(missing_ok=True)
    started = time.time()  # wall clock, as the callback's: the two processes share it
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if not marker.is_file():
        raise SystemExit(
            f"{' '.join(command)} ended (exit {done.returncode}) before its first step:\n{done.stderr[-3000:]}"
        )
    return float(marker.read_text()) - started


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repetitions of each quick command")
    parser.add_argument("--first-step-repeats", type=int, default=3, help="repetitions of each first-step run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "startup.json")
    options = parser.parse_args()
    dlbook = dlbook_command()
    commands = {
        "dlbook_help": [*dlbook, "--help"],
        "dlbook_cfg_job": [*dlbook, "train", "--cfg", "job", "experiment=imdb"],
        "import_tensorflow_keras": [sys.executable, "-c", "import tensorflow, keras"],
    }
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        env = environment(workdir)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.repeats):
            for name, command in commands.items():
                times[name].append(wall_seconds(command, env, workdir))
        imported = {
            "dlbook_help": imports_tensorflow(["--help"], env, workdir),
            "dlbook_cfg_job": imports_tensorflow(["train", "--cfg", "job", "experiment=imdb"], env, workdir),
        }

        data = workdir / "imdb.npz"
        write_imdb_dense(data)
        marker = workdir / "first_step.txt"
        callback = f"+callbacks.first_step={{_target_:first_step.FirstStep,path:'{marker}'}}"
        first_step_commands = {
            "plain": [sys.executable, str(HERE / "plain_imdb_dense.py"), str(data), "1", "--first-step", str(marker)],
            "dlbook": [
                *dlbook,
                "train",
                "experiment=imdb",
                f"dataset.path={data}",
                f"paths.output_dir={workdir / 'outputs'}",
                callback,
            ],
        }
        first: dict[str, list[float]] = {name: [] for name in first_step_commands}
        for round_index in range(options.first_step_repeats):
            for name, command in first_step_commands.items():
                first[name].append(seconds_to_first_step(command, marker, env, workdir))
            shown = ", ".join(f"{name} {values[-1]:.2f} s" for name, values in first.items())
            print(f"first step, round {round_index + 1}: {shown}", flush=True)

    result = {
        "benchmark": "start-up: wall seconds of fresh processes; time to the first training step (IMDB 3.5)",
        "dlbook_help_seconds": summary(times["dlbook_help"]),
        "dlbook_cfg_job_seconds": summary(times["dlbook_cfg_job"]),
        "tensorflow_imported": imported,
        "import_tensorflow_keras_seconds": summary(times["import_tensorflow_keras"]),
        "first_step_dlbook_seconds": summary(first["dlbook"]),
        "first_step_plain_seconds": summary(first["plain"]),
        "first_step_ratio": round(statistics.median(first["dlbook"]) / statistics.median(first["plain"]), 3),
        "repeats": options.repeats,
        "first_step_repeats": options.first_step_repeats,
        "data": "generated imdb.npz, 25,000 + 25,000 reviews of about 230 words, 10,000-word vocabulary",
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
