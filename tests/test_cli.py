"""The `dlbook` command itself: the overview, sub-commands, Hydra's flags."""

from __future__ import annotations

import subprocess
import sys

from cli_runner import run_dlbook

from dlbook.cli import main, overview


def test_overview_lists_commands_and_the_catalogue_with_sections():
    text = overview()
    for expected in ("train", "evaluate", "boston_housing", "3.7", "imdb", "3.5", "reuters", "3.6", "mnist_dense"):
        assert expected in text


def test_help_does_not_import_tensorflow_or_hydra():
    code = (
        "import sys; from dlbook.cli import main; main(['--help']); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'heavy import'; "
        "assert 'hydra' not in sys.modules, 'hydra imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Experiments" in result.stdout


def test_unknown_command_is_refused(capsys):
    assert main(["fit"]) == 2
    assert "unknown command 'fit'" in capsys.readouterr().err


def test_cfg_job_composes_without_plus_and_without_tensorflow(tmp_path):
    result = run_dlbook("train", "experiment=imdb", "optimizer.learning_rate=3e-4", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "name: imdb" in result.stdout
    assert "learning_rate: 0.0003" in result.stdout
    assert "size: 10000" in result.stdout
    assert not (tmp_path / "outputs").exists()


def test_train_help_shows_config_groups_and_experiments(tmp_path):
    result = run_dlbook("train", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for group in ("dataset:", "model:", "optimizer:", "callbacks:", "trainer:", "task:", "experiment:", "debug:"):
        assert group in result.stdout
    experiments = next(line for line in result.stdout.splitlines() if line.startswith("experiment:"))
    for name in ("boston_housing", "imdb", "mnist_dense", "reuters", "mnist_convnet"):
        assert name in experiments


def test_hydra_info_flag_works(tmp_path):
    result = run_dlbook("train", "--info", "searchpath", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dlbook://experiments" in result.stdout
