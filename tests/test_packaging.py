"""dlbook works installed from its wheel, not only from the checkout: configs and plugin ship inside."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What `dlbook train --cfg job` needs besides dlbook itself (no TensorFlow: composing imports none).
CONFIG_ONLY_PACKAGES = ("hydra", "omegaconf", "antlr4", "yaml", "_yaml", "packaging")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = dist.glob("dlbook-*.whl")
    return built


def test_wheel_ships_configs_catalogue_and_plugin(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "dlbook/conf/train.yaml",
        "dlbook/conf/evaluate.yaml",
        "dlbook/conf/visualize.yaml",
        "dlbook/conf/dataset/imdb.yaml",
        "dlbook/experiments/imdb.yaml",
        "dlbook/experiments/boston_housing.yaml",
        "hydra_plugins/dlbook_experiments/experiment_source.py",
    ):
        assert expected in names


def test_wheel_in_a_clean_venv_composes_an_experiment(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
    )
    # Offline, the config-only dependencies come from this environment, linked one by one (not dlbook).
    site = Path(sysconfig.get_paths()["purelib"])
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in CONFIG_ONLY_PACKAGES:
        for candidate in list(site.glob(name)) + list(site.glob(f"{name}.*.so")):
            (deps / candidate.name).symlink_to(candidate)
    clean_site = next((venv / "lib").glob("python3*/site-packages"))
    (clean_site / "config_only_deps.pth").write_text(str(deps) + "\n")

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(venv / "bin" / "dlbook"), "train", "experiment=imdb", "--cfg", "job"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "name: imdb" in result.stdout and "_target_: dlbook.datasets.imdb.load" in result.stdout
    located = subprocess.run(
        [str(python), "-c", "import dlbook.config.resources as r; print(r.conf_dir())"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert str(clean_site) in located.stdout  # the configs inside the wheel, not the checkout's
