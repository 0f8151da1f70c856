"""The cluster launcher presets: submitit's local executor runs a real sweep; slurm and ray compose."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from cli_runner import read, run_dlbook
from composing import compose_train_config


def installed(plugin: str) -> bool:
    return importlib.util.find_spec(f"hydra_plugins.{plugin}") is not None


needs_submitit = pytest.mark.skipif(
    not installed("hydra_submitit_launcher"), reason="hydra-submitit-launcher is not installed (extra: slurm)"
)


def launcher_settings(tmp_path: Path, *overrides: str) -> dict:
    """hydra.launcher as `dlbook train <overrides> --cfg hydra` prints it (nothing runs)."""
    done = run_dlbook("train", *overrides, "--cfg", "hydra", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["hydra"]["launcher"]


@needs_submitit
def test_local_executor_runs_every_job_of_a_sweep(tmp_path):
    # Two folds and no callbacks on top of debug=fast: the jobs only need to finish (a quarter less time).
    shrink = ["debug=fast", "task.folds=2", "callbacks=none"]
    done = run_dlbook("train", "-m", "hydra/launcher=local", *shrink, "seed=1,2", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    jobs = sorted(path for path in sweep.iterdir() if path.is_dir() and path.name.isdigit())
    assert [job.name for job in jobs] == ["0", "1"]
    for job in jobs:
        assert read(job / "status.json")["status"] == "completed", read(job / "status.json")
        assert "test" in read(job / "metrics.json")
    # submitit ran them: each job left its logs in the sweep's .submitit folder.
    assert len(list((sweep / ".submitit").glob("*/*_log.out"))) == 2


@needs_submitit
def test_slurm_preset_composes_without_slurm(tmp_path):
    launcher = launcher_settings(tmp_path, "hydra/launcher=slurm")
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] is None  # the cluster's default partition
    assert (launcher["nodes"], launcher["tasks_per_node"], launcher["gpus_per_node"]) == (1, 1, 1)
    assert launcher["cpus_per_task"] == 8 and launcher["mem_gb"] == 32
    assert launcher["timeout_min"] == 240 and launcher["array_parallelism"] == 16
    changed = launcher_settings(tmp_path, "hydra/launcher=slurm", "hydra.launcher.partition=gpu")
    assert changed["partition"] == "gpu"
    # The interpolations resolve: logs inside the sweep directory, the experiment in the job name.
    cfg = compose_train_config("hydra/launcher=slurm", "experiment=imdb")
    assert cfg.hydra.launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"
    assert cfg.hydra.launcher.name == "dlbook_imdb"


@pytest.mark.skipif(not installed("hydra_ray_launcher"), reason="hydra-ray-launcher is not installed (extra: ray)")
def test_ray_preset_composes(tmp_path):
    launcher = launcher_settings(tmp_path, "hydra/launcher=ray")
    assert launcher["_target_"].endswith("RayLauncher")
    assert launcher["ray"]["init"]["address"] is None
    assert launcher["ray"]["remote"] == {"num_gpus": 1, "num_cpus": 2, "max_calls": 1}


WITHOUT_SUBMITIT = """
import sys, warnings
# As if the slurm extra were not installed: an import of these fails (a None entry in sys.modules makes any
# import of the name raise ImportError, also through Hydra's plugin scan, which bypasses sys.meta_path).
for name in ("submitit", "hydra_plugins.hydra_submitit_launcher", "hydra_plugins.hydra_submitit_launcher.config",
             "hydra_plugins.hydra_submitit_launcher.submitit_launcher"):
    sys.modules[name] = None
warnings.simplefilter("always")
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
print(sorted(plugin.__name__ for plugin in Plugins.instance().discover(Launcher)))
"""


def test_without_the_slurm_extra_the_plugin_scan_finds_dlbooks_launcher_and_warns_of_nothing():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WITHOUT_SUBMITIT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "DlbookLauncher" in done.stdout and "DlbookSlurmLauncher" not in done.stdout
    assert "dlbook_launcher" not in done.stderr  # Hydra warns about a plugin module that fails to import


@needs_submitit
def test_the_slurm_preset_uses_dlbooks_slurm_launcher():
    cfg = compose_train_config("hydra/launcher=slurm")
    assert cfg.hydra.launcher._target_ == "hydra_plugins.dlbook_launcher.slurm.DlbookSlurmLauncher"
    assert cfg.hydra.launcher.signal_delay_s == 120
