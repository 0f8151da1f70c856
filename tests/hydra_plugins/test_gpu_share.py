"""Jobs packed on one GPU each get their share of its memory and of the CPU cores (simulated GPU lists).

The launcher hands a job its share through the environment of the job's process; the job applies it before
TensorFlow starts (dlbook.run.runtime) and records it in provenance.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlbook.errors import ConfigError
from hydra_plugins.dlbook_launcher import slots
from hydra_plugins.dlbook_launcher.slots import plan_slots

APP = Path(__file__).parent / "launcher_app" / "environment_app.py"


def run_app(tmp_path: Path, *overrides: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, str(APP), "-m", *overrides], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(path.read_text()) for path in sorted((tmp_path / "sweep").glob("*/environment.json"))]


def test_two_jobs_per_gpu_each_get_a_fair_share_of_memory_and_cores(tmp_path):
    records = run_app(tmp_path, "index=range(4)", "hydra.launcher.gpus=[0]", "hydra.launcher.jobs_per_gpu=2")
    assert len(records) == 4
    cores = os.cpu_count() or 1
    for record in records:
        assert record["CUDA_VISIBLE_DEVICES"] == "0"
        assert record["DLBOOK_GPU_MEMORY_FRACTION"] == "0.45"  # 90% of the GPU shared by 2 jobs
        assert record["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"  # TensorFlow takes memory as it needs it
        assert record["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"  # the same share for JAX jobs
        # GPU jobs share the CPU cores as CPU workers do: the cores / the 2 jobs at once.
        assert record["TF_NUM_INTRAOP_THREADS"] == str(max(1, cores // 2))


def test_an_explicit_memory_fraction_and_a_job_alone_on_its_gpu(tmp_path):
    records = run_app(tmp_path, "index=range(2)", "hydra.launcher.gpus=[0,1]", "hydra.launcher.gpu_memory_fraction=0.3")
    assert {record["CUDA_VISIBLE_DEVICES"] for record in records} == {"0", "1"}
    assert [record["DLBOOK_GPU_MEMORY_FRACTION"] for record in records] == ["0.3", "0.3"]
    # auto with one job per GPU leaves the framework's default: the job has its GPU to itself.
    alone = plan_slots([0], 1, 1, 1)[0].env
    assert "DLBOOK_GPU_MEMORY_FRACTION" not in alone and "TF_FORCE_GPU_ALLOW_GROWTH" not in alone


def test_the_memory_limit_follows_the_gpus_size_when_nvidia_smi_reports_it(monkeypatch):
    monkeypatch.setattr(slots, "gpu_memory_mb", lambda: {"0": 81559, "1": 40960})
    packed = plan_slots([0, 1], 4, 1, 1)
    assert len(packed) == 8
    limits = {slot.gpus: slot.env["DLBOOK_GPU_MEMORY_LIMIT_MB"] for slot in packed}
    assert limits == {("0",): str(int(0.225 * 81559)), ("1",): str(int(0.225 * 40960))}
    # A job given two GPUs gets its fraction of the smaller one on each.
    pair = plan_slots([0, 1], 2, 2, 1)[0].env
    assert pair["DLBOOK_GPU_MEMORY_LIMIT_MB"] == str(int(0.45 * 40960))


@pytest.mark.parametrize("value", [0, 1.5, "half", True])
def test_a_bad_memory_fraction_is_refused_with_the_key_and_what_is_valid(value):
    with pytest.raises(ConfigError, match=r"hydra.launcher.gpu_memory_fraction=.* is not valid: give auto"):
        plan_slots([0], 2, 1, 1, gpu_memory_fraction=value)


def test_provenance_records_the_jobs_memory_share(monkeypatch):
    monkeypatch.setenv("DLBOOK_LAUNCHER_SLOT", "gpu0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("DLBOOK_GPU_MEMORY_FRACTION", "0.45")
    monkeypatch.setenv("DLBOOK_GPU_MEMORY_LIMIT_MB", "36701")
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    from dlbook.run.directory import provenance

    record = provenance()
    assert record["launcher"]["gpu_memory"] == {"fraction": 0.45, "limit_mb": 36701, "growth": True}
    assert record["devices_in_use"]["gpus"] == []  # no GPU here: TensorFlow runs on the CPU
    assert record["devices_in_use"]["cpus"]
