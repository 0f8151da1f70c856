"""Run the real `dlbook` command in a subprocess, as a user would, with outputs in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DLBOOK = [sys.executable, "-m", "dlbook"]
# For tests that sweep over experiments to check the experiments themselves: Hydra's basic launcher runs
# every job in the one process, so TensorFlow is imported once instead of once per job. dlbook's own
# launcher (a process per job) is tested in tests/hydra_plugins/ and by the other sweep tests.
ONE_PROCESS = "hydra/launcher=basic"


def run_dlbook(*arguments: str, cwd: Path, timeout: float = 600, env: dict | None = None):
    """`dlbook <arguments>` with KERAS_HOME inside ``cwd``; returns the CompletedProcess (text output)."""
    backend = os.environ.get("DLBOOK_TEST_BACKEND")
    if backend and arguments and arguments[0] == "train" and not any(a.startswith("backend=") for a in arguments):
        # DLBOOK_TEST_BACKEND=jax runs the end-to-end tests' trainings on that Keras backend.
        arguments = (*arguments, f"backend={backend}")
    environment = dict(os.environ)
    environment["KERAS_HOME"] = str(cwd / "keras_home")
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    environment.update(env or {})
    return subprocess.run(
        [*DLBOOK, *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def without_tensorflow() -> dict:
    """The environment of a dlbook process that cannot import TensorFlow, as in a JAX- or PyTorch-only
    install (tests/without_tensorflow/sitecustomize.py hides it)."""
    hide = Path(__file__).parent / "without_tensorflow"
    assert (hide / "sitecustomize.py").is_file(), hide  # a moved folder must not quietly leave TensorFlow visible
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))}


def run_dirs(output_dir: Path, experiment: str) -> list[Path]:
    """Run directories of ``experiment`` under ``output_dir`` (single runs), oldest first."""
    return sorted(path for path in (output_dir / experiment).glob("*") if path.is_dir())


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def sweep_results(workdir: Path) -> dict:
    """{experiment: (status, metrics or None)} for every job of the sweeps under workdir/outputs/multirun."""
    results = {}
    for status_file in (workdir / "outputs" / "multirun").rglob("status.json"):
        status = read(status_file)
        metrics_file = status_file.with_name("metrics.json")
        results[status["experiment"]] = (status["status"], read(metrics_file) if metrics_file.exists() else None)
    return results
