"""bench/gpu.sh, the GPU check for a lent GPU machine: its dry run checks its own plumbing on this CPU, and
it says plainly when it cannot run (no GPU) instead of pretending, and it runs dlbook on another backend."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu.sh"


def run_check(*arguments: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHON=sys.executable, **(env or {}))
    return subprocess.run(
        ["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=timeout, env=environment
    )


def test_without_a_gpu_it_says_so_and_measures_nothing(tmp_path):
    done = run_check(env={"OUT": str(tmp_path)}, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    text = (tmp_path / "gpu_report.md").read_text()  # $OUT/gpu_report.md by default
    assert "**Not run:** tensorflow sees no GPU on this machine" in text and "nothing was measured" in text


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_the_dry_run_checks_its_plumbing_on_the_jax_backend(tmp_path):
    # JAX: the backend of the GPU machine this check is for (it has no TensorFlow); the check's code passes
    # the backend to every run, so one dry run covers the plumbing of every backend.
    report = tmp_path / "report.md"
    done = run_check("--backend", "jax", "--dry-run", "--report", str(report), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = report.read_text()
    assert text.startswith("# dlbook GPU check (DRY RUN on the CPU") and "backend jax" in text
    for section in (
        "## 1. A sweep over every GPU",
        "## 2. 2 jobs on one CPU",
        "## 3. Epoch times",
        "## 4. Mixed",
        "## 5. The book's goals at full size (CPU (dry run), jax",
    ):
        assert section in text
    assert "| mnist_convnet |" in text and "| mixed_float16 | true |" in text
    # Every run was checked to have run on JAX (provenance.json): any other backend is a FAILED line.
    assert "## Verdict: all checks passed" in text and "FAILED" not in text
