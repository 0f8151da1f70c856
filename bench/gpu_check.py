"""The GPU check (``bench/gpu.sh``): dlbook's real training runs on the GPUs of the machine it runs on.

Needs only the working tree (dlbook is run from ``src/``; the data are small files in the real formats, made
here by the test suite's writers) and the machine's own packages. Writes a Markdown report and asserts what
it measures; any failed check is listed in the report and makes the exit status 1:

1. a sweep over every GPU: each job ran on the GPU the launcher assigned it, by the framework's own device
   list (``devices_in_use`` in provenance.json), not by nvidia-smi;
2. ``jobs_per_gpu=4`` on one GPU: 4 real training jobs at the same time, none fails;
3. epoch times of ``mnist_convnet``, ``imdb_lstm`` and ``jena_gru`` on the GPU, the CPU's beside them;
4. ``mixed_float16`` and ``jit_compile`` on / off: epoch time and final loss side by side;
5. the book's goals at full size: the MNIST convnet (60,000 images, batch 64) under 2 s an epoch, the IMDB
   LSTM (25,000 reviews) under 5 s, and dlbook within 5% of the book's plain Keras script (``bench/plain_*.py``)
   run on the same GPU and backend in the same call.

``--dry-run`` checks the plumbing on a machine without GPU: the same code paths on CPU workers, fewer
runs, tiny steps; the figures are then CPU figures and say so.

``--backend`` picks the Keras backend (tensorflow, the default; jax or torch: dlbook's ``backend=`` run key,
which is how this check runs on a GPU machine without TensorFlow). Exit status: 0 all checks passed, 1 a check
failed, 3 the check could not run here (the report says why: missing packages, no GPU visible).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
TIMED = ("mnist_convnet", "imdb_lstm", "jena_gru")
TIME_LIMIT_S = 8 * 60
# The Keras backend every run of this check uses (--backend), set once by main().
BACKEND = "tensorflow"


class CannotRun(Exception):
    """The check cannot run on this machine (the message says why); nothing was measured."""


class Check:
    """The report being written: sections of Markdown, and the assertions with their outcome."""

    def __init__(self, title: str) -> None:
        self.lines = [f"# {title}", ""]
        self.failures: list[str] = []
        self.passed = 0

    def expect(self, condition: bool, what: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(what)
        return condition

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def write(self, path: Path) -> None:
        status = "all checks passed" if not self.failures else f"{len(self.failures)} check(s) FAILED"
        lines = [*self.lines, "", f"## Verdict: {status} ({self.passed} passed)", ""]
        lines += [f"- FAILED: {failure}" for failure in self.failures]
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text("\n".join(lines) + "\n")
        temporary.replace(path)


def preflight(backend: str, dry_run: bool) -> dict:
    """What the machine offers (packages, GPUs seen by the framework); CannotRun when the check cannot run."""
    needed = ["hydra", "omegaconf", "keras", "numpy", backend]
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise CannotRun(
            f"this machine lacks the Python package(s) {', '.join(missing)} that dlbook needs for --backend "
            f"{backend} (found: {', '.join(name for name in needed if name not in missing)}). Nothing was measured."
        )
    probe = {
        "tensorflow": "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))",
        "jax": "import jax; print(sum(d.platform == 'gpu' for d in jax.devices()))",
        "torch": "import torch; print(torch.cuda.device_count())",
    }[backend]
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    gpus = int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else 0
    if not dry_run and gpus == 0:
        raise CannotRun(
            f"{backend} sees no GPU on this machine (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}"
            f"): nothing was measured. With TensorFlow, install its CUDA build: pip install 'dlbook[gpu]'."
        )
    return {"gpus": gpus, "python": sys.version.split()[0]}


def make_data(folder: Path, dry_run: bool) -> dict[str, list[str]]:
    """Dataset files in the real formats (the test suite's writers), and the overrides that use them."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_text import SMALL_JENA, write_jena_csv
    from fakes import write_imdb_npz, write_mnist_npz

    folder.mkdir(parents=True, exist_ok=True)
    scale = 1 if dry_run else 20
    mnist = write_mnist_npz(folder / "mnist.npz", n_train=300 * scale, n_test=100)
    imdb = write_imdb_npz(folder / "imdb.npz", n_train=200 * scale, n_test=100)
    jena = write_jena_csv(folder / "jena.csv", rows=12000)
    return {
        "mnist_convnet": [f"dataset.path={mnist}"],
        "imdb_lstm": [f"dataset.path={imdb}"],
        "jena_gru": [f"dataset.path={jena}", *SMALL_JENA],
    }


def dlbook(workdir: Path, *arguments: str, env: dict | None = None, timeout: float = 400):
    """`python -m dlbook <arguments> backend=<the check's backend>` from the working tree's sources, outputs
    under ``workdir``."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), KERAS_HOME=str(workdir / "keras_home"))
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environment.update(env or {})
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dlbook", *arguments, f"backend={BACKEND}"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.perf_counter() - started


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _jobs(sweep_root: Path) -> list[Path]:
    return sorted(path.parent for path in sweep_root.rglob("status.json"))


def _overlap(jobs: list[Path]) -> int:
    """The largest number of ``jobs`` that were running at the same moment (status.json start/end times)."""
    events = []
    for job in jobs:
        status = _read(job / "status.json")
        if status.get("started") and status.get("ended"):
            events += [(status["started"], 1), (status["ended"], -1)]
    running = peak = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        peak = max(peak, running)
    return peak


def _last_run(workdir: Path, experiment: str) -> Path | None:
    runs = sorted(path for path in (workdir / "outputs" / experiment).glob("*") if path.is_dir())
    return runs[-1] if runs else None


def _epochs(run: Path) -> list[dict]:
    history = run / "history.csv"
    if not history.is_file():
        return []
    with open(history, newline="") as file:
        return list(csv.DictReader(file))


def sweep_on_every_gpu(check: Check, workdir: Path, data: dict, gpus: int, dry_run: bool, steps: int) -> None:
    """1. A sweep over every GPU: each job on the GPU it was assigned, by the framework's device list."""
    jobs = 1 if dry_run else 2 * gpus
    where = ["hydra.launcher.gpus=[]"] if dry_run else ["hydra.launcher.gpus=auto"]
    seeds = ",".join(str(seed) for seed in range(jobs))
    done, seconds = dlbook(
        workdir, "train", "-m", "experiment=mnist_convnet", *data["mnist_convnet"], f"seed={seeds}",
        "trainer.max_epochs=1", f"trainer.max_steps={steps}", "trainer.progress=none",
        "hydra.sweep.dir=sweeps/every_gpu", *where,
    )  # fmt: skip
    check.add("## 1. A sweep over every GPU", "", f"`{' '.join(where)}`, {jobs} jobs, {seconds:.0f} s.", "")
    check.add("| job | slot | CUDA_VISIBLE_DEVICES | GPUs the framework uses | status |", "|---|---|---|---|---|")
    found = _jobs(workdir / "sweeps" / "every_gpu")
    check.expect(done.returncode == 0, f"sweep on every GPU exited {done.returncode}: {done.stderr[-500:]}")
    check.expect(len(found) == jobs, f"sweep on every GPU: {len(found)} job folders, expected {jobs}")
    for job in found:
        provenance, status = _read(job / "provenance.json"), _read(job / "status.json")
        launcher = provenance.get("launcher") or {}
        assigned = [gpu for gpu in (launcher.get("cuda_visible_devices") or "").split(",") if gpu]
        used = (provenance.get("devices_in_use") or {}).get("gpus")
        check.add(f"| {job.name} | {launcher.get('slot')} | {launcher.get('cuda_visible_devices')!r} | {used} | "
                  f"{status.get('status')} |")  # fmt: skip
        check.expect(status.get("status") == "completed", f"job {job.name} of the sweep: {status.get('status')}")
        ran_on = (provenance.get("backend") or {}).get("name")
        check.expect(ran_on == BACKEND, f"job {job.name} ran on the {ran_on} backend, not {BACKEND}")
        # The job sees exactly the GPUs it was given (renumbered from 0 inside the job), and uses them.
        check.expect(used is not None and len(used) == len(assigned), f"job {job.name}: given {assigned}, uses {used}")
    check.add("")


def four_jobs_on_one_gpu(check: Check, workdir: Path, data: dict, dry_run: bool, steps: int) -> None:
    """2. ``jobs_per_gpu=4`` on one GPU: 4 real training jobs at once, none fails."""
    jobs = 2 if dry_run else 4
    where = (
        ["hydra.launcher.gpus=[]", "hydra.launcher.cpu_workers=2"]
        if dry_run
        else ["hydra.launcher.gpus=[0]", "hydra.launcher.jobs_per_gpu=4"]
    )
    seeds = ",".join(str(seed) for seed in range(jobs))
    done, seconds = dlbook(
        workdir, "train", "-m", "experiment=mnist_convnet", *data["mnist_convnet"], f"seed={seeds}",
        "trainer.max_epochs=2", f"trainer.max_steps={steps}", "trainer.progress=none",
        "hydra.sweep.dir=sweeps/packed", *where,
    )  # fmt: skip
    found = _jobs(workdir / "sweeps" / "packed")
    statuses = [_read(job / "status.json").get("status") for job in found]
    shares = [((_read(job / "provenance.json").get("launcher") or {}).get("gpu_memory")) for job in found]
    peak = _overlap(found)
    check.add(
        f"## 2. {jobs} jobs on one {'CPU (dry run)' if dry_run else 'GPU'} at once", "",
        f"`{' '.join(where)}`: statuses {statuses}, at most {peak} running at the same time, {seconds:.0f} s; "
        f"each job's memory share: {shares[0] if shares else None}.", "",
    )  # fmt: skip
    check.expect(done.returncode == 0, f"packed sweep exited {done.returncode}: {done.stderr[-500:]}")
    check.expect(statuses == ["completed"] * jobs, f"packed jobs: {statuses}")
    check.expect(peak == jobs, f"packed jobs: at most {peak} ran at once, expected {jobs}")
    if not dry_run:
        check.expect(all(share and share.get("fraction") for share in shares), f"packed jobs' memory shares: {shares}")


def timed_run(workdir: Path, experiment: str, data: dict, steps: int, env: dict, *extra: str) -> dict:
    """One training run of ``experiment`` (2 epochs of at most ``steps`` batches): its second epoch's time,
    final loss, the devices it used and its status."""
    before = _last_run(workdir, experiment)
    done, seconds = dlbook(
        workdir, "train", f"experiment={experiment}", *data[experiment], "trainer.max_epochs=2",
        f"trainer.max_steps={steps}", "trainer.progress=none", "callbacks=none", *extra, env=env,
    )  # fmt: skip
    run = _last_run(workdir, experiment)
    if run is None or run == before:
        return {"status": f"no run (exit {done.returncode}): {done.stderr[-300:]}", "wall_s": seconds}
    epochs = _epochs(run)
    last = epochs[-1] if epochs else {}
    return {
        "status": _read(run / "status.json").get("status"),
        "epoch_s": float(last["seconds"]) if last.get("seconds") else None,
        "loss": float(last["loss"]) if last.get("loss") else None,
        "gpus": (_read(run / "provenance.json").get("devices_in_use") or {}).get("gpus"),
        "backend": (_read(run / "provenance.json").get("backend") or {}).get("name"),
        "wall_s": seconds,
    }


def epoch_times(check: Check, workdir: Path, data: dict, dry_run: bool, steps: int) -> None:
    """3. Epoch times on the GPU, with the CPU's beside them."""
    experiments = TIMED[:1] if dry_run else TIMED
    gpu_env = {"CUDA_VISIBLE_DEVICES": ""} if dry_run else {"CUDA_VISIBLE_DEVICES": "0"}
    gpu = "GPU (dry run: the CPU)" if dry_run else "GPU"
    check.add(
        f"## 3. Epoch times ({steps} batches an epoch; the second epoch)", "",
        f"| experiment | {gpu} epoch s | CPU epoch s | CPU / GPU | GPU loss | CPU loss |", "|---|---|---|---|---|---|",
    )  # fmt: skip
    for experiment in experiments:
        on_gpu = timed_run(workdir, experiment, data, steps, gpu_env)
        on_cpu = timed_run(workdir, experiment, data, steps, {"CUDA_VISIBLE_DEVICES": ""})
        ratio = on_cpu["epoch_s"] / on_gpu["epoch_s"] if on_gpu.get("epoch_s") and on_cpu.get("epoch_s") else None
        check.add(
            f"| {experiment} | {_figure(on_gpu.get('epoch_s'))} | {_figure(on_cpu.get('epoch_s'))} | "
            f"{_figure(ratio)} | {_figure(on_gpu.get('loss'))} | {_figure(on_cpu.get('loss'))} |"
        )
        for name, result in (("GPU", on_gpu), ("CPU", on_cpu)):
            check.expect(result["status"] == "completed", f"{experiment} on the {name}: {result['status']}")
            check.expect(_finite(result.get("loss")), f"{experiment} on the {name}: loss {result.get('loss')}")
            check.expect(result.get("backend") == BACKEND, f"{experiment} on the {name}: {result.get('backend')}")
        check.expect(on_cpu.get("gpus") == [], f"{experiment}'s CPU run used GPUs {on_cpu.get('gpus')}")
        if not dry_run:
            check.expect(bool(on_gpu.get("gpus")), f"{experiment}'s GPU run used no GPU ({on_gpu.get('gpus')})")
    check.add("")


def precision_and_xla(check: Check, workdir: Path, data: dict, dry_run: bool, steps: int) -> None:
    """4. mixed_float16 and jit_compile on / off: time and final loss side by side (mnist_convnet)."""
    variants = [("null", "false"), ("mixed_float16", "true")]
    if not dry_run:
        variants = [("null", "false"), ("null", "true"), ("mixed_float16", "false"), ("mixed_float16", "true")]
    env = {"CUDA_VISIBLE_DEVICES": ""} if dry_run else {"CUDA_VISIBLE_DEVICES": "0"}
    check.add(
        "## 4. Mixed precision and XLA (mnist_convnet)", "",
        "| trainer.mixed_precision | trainer.jit_compile | epoch s | final loss |", "|---|---|---|---|",
    )  # fmt: skip
    losses = {}
    for precision, jit in variants:
        result = timed_run(
            workdir, "mnist_convnet", data, steps, env,
            f"trainer.mixed_precision={precision}", f"trainer.jit_compile={jit}",
        )  # fmt: skip
        losses[(precision, jit)] = result.get("loss")
        check.add(f"| {precision} | {jit} | {_figure(result.get('epoch_s'))} | {_figure(result.get('loss'))} |")
        check.expect(result["status"] == "completed", f"mnist_convnet {precision} jit={jit}: {result['status']}")
        check.expect(_finite(result.get("loss")), f"mnist_convnet {precision} jit={jit}: loss {result.get('loss')}")
    baseline = losses.get(("null", "false"))
    for key, loss in losses.items():
        # The same steps from the same seed: mixed precision and XLA change the rounding, not the learning.
        if _finite(baseline) and _finite(loss):
            check.expect(
                abs(loss - baseline) <= 0.1 * abs(baseline) + 0.02, f"final loss {loss} of {key} vs {baseline}"
            )
    check.add("")


# Seconds per epoch on one GPU (the book's full-size data), and dlbook's epoch over the plain script's.
EPOCH_GOALS_S = {"mnist_convnet": 2.0, "imdb_lstm": 5.0}
OVERHEAD_GOAL = 1.05


def book_goals(check: Check, workdir: Path, dry_run: bool) -> None:
    """5. Full-size MNIST convnet and IMDB LSTM: dlbook beside the book's plain script, same device and backend."""
    sys.path.insert(0, str(ROOT / "bench"))
    from fakes import write_mnist_npz
    from runner_overhead import write_imdb

    folder = workdir / "full_size"
    folder.mkdir(parents=True, exist_ok=True)
    # The dry run times only the convnet (the LSTM takes the same code path) on 600 images, with no goal.
    goals = dict(list(EPOCH_GOALS_S.items())[:1]) if dry_run else EPOCH_GOALS_S
    files = {
        "mnist_convnet": write_mnist_npz(
            folder / "mnist.npz", n_train=600 if dry_run else 60_000, n_test=100 if dry_run else 10_000
        ),
        "imdb_lstm": folder / "imdb.npz",
    }
    if "imdb_lstm" in goals:
        write_imdb(files["imdb_lstm"])
    epochs = 2 if dry_run else 4  # the first epoch traces and compiles: the median of the others is the figure
    env = {"CUDA_VISIBLE_DEVICES": "" if dry_run else "0", "KERAS_BACKEND": BACKEND}
    where = "CPU (dry run)" if dry_run else "GPU"
    check.add(
        f"## 5. The book's goals at full size ({where}, {BACKEND}; median of epochs 2 to {epochs})", "",
        "| experiment | plain script epoch s | dlbook epoch s | dlbook / plain | goal |", "|---|---|---|---|---|",
    )  # fmt: skip
    for experiment, goal in goals.items():
        plain = _plain_epochs(experiment, files[experiment], epochs, env)
        done, _ = dlbook(
            workdir, "train", f"experiment={experiment}", f"dataset.path={files[experiment]}",
            f"trainer.epochs={epochs}", "callbacks=none", "trainer.progress=none", env=env, timeout=900,
        )  # fmt: skip
        run = _last_run(workdir, experiment)
        ours = [float(row["seconds"]) for row in _epochs(run) if row.get("phase") == "fit"] if run else []
        ran_on = (_read(run / "provenance.json").get("backend") or {}).get("name") if run else None
        plain_s = statistics.median(plain[1:]) if len(plain) > 1 else None
        ours_s = statistics.median(ours[1:]) if len(ours) > 1 else None
        ratio = ours_s / plain_s if ours_s and plain_s else None
        check.add(
            f"| {experiment} | {_figure(plain_s)} | {_figure(ours_s)} | {_figure(ratio)} | "
            f"< {goal} s, ratio <= {OVERHEAD_GOAL} |"
        )
        check.expect(done.returncode == 0, f"{experiment} full size exited {done.returncode}: {done.stderr[-300:]}")
        check.expect(ran_on == BACKEND, f"{experiment} full size ran on {ran_on}, not {BACKEND}")
        check.expect(ours_s is not None and plain_s is not None, f"{experiment} full size: no epoch times")
        if not dry_run and ours_s is not None and ratio is not None:
            check.expect(ours_s < goal, f"{experiment}: {ours_s:.2f} s an epoch, goal < {goal} s")
            check.expect(ratio <= OVERHEAD_GOAL, f"{experiment}: dlbook / plain {ratio:.3f}, goal <= {OVERHEAD_GOAL}")
    check.add("")


def _plain_epochs(experiment: str, data: Path, epochs: int, env: dict) -> list[float]:
    """Epoch seconds of the book's plain Keras script for ``experiment`` (bench/plain_<experiment>.py)."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"plain_{experiment}.py"), str(data), str(epochs)],
        env=environment, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        return []
    return json.loads(done.stdout.strip().splitlines()[-1])["epoch_seconds"]


def _finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def _figure(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="check the plumbing on CPU workers (no GPU needed)")
    parser.add_argument("--backend", choices=BACKENDS, default="tensorflow")
    parser.add_argument("--report", type=Path, default=None, help="default: $OUT/gpu_report.md, else bench/results/")
    arguments = parser.parse_args(argv)
    default_folder = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "bench" / "results"
    report = arguments.report or default_folder / "gpu_report.md"
    dry_run = arguments.dry_run
    global BACKEND
    BACKEND = arguments.backend
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    check = Check(f"dlbook GPU check{' (DRY RUN on the CPU: plumbing only, no GPU figures)' if dry_run else ''}")
    try:
        machine = preflight(arguments.backend, dry_run)
    except CannotRun as reason:
        check.add(f"{stamp}, backend {arguments.backend}.", "", f"**Not run:** {reason}")
        check.write(report)
        print(f"gpu check not run: {reason}\nreport: {report}", file=sys.stderr)
        return 3
    check.add(
        f"{stamp}; backend {arguments.backend}; Python {machine['python']}; GPUs the framework sees: "
        f"{machine['gpus']}; CPU cores: {os.cpu_count()}.",
        "",
    )
    steps = 5 if dry_run else 100
    with tempfile.TemporaryDirectory(prefix="dlbook-gpu-check-") as folder:
        workdir = Path(folder)
        data = make_data(workdir / "data", dry_run)
        sweep_on_every_gpu(check, workdir, data, machine["gpus"], dry_run, steps)
        four_jobs_on_one_gpu(check, workdir, data, dry_run, steps * 3)
        epoch_times(check, workdir, data, dry_run, steps)
        precision_and_xla(check, workdir, data, dry_run, steps)
        book_goals(check, workdir, dry_run)
    elapsed = time.perf_counter() - started
    check.add(f"Total time: {elapsed:.0f} s (limit {TIME_LIMIT_S} s).")
    check.expect(dry_run or elapsed < TIME_LIMIT_S, f"the check took {elapsed:.0f} s, over {TIME_LIMIT_S} s")
    check.write(report)
    print(f"gpu check: {check.passed} passed, {len(check.failures)} failed; report: {report}")
    for failure in check.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
