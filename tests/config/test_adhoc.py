"""Your own data and model: ad-hoc runs get a neutral base, and the README's own-experiment example runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import yaml
from cli_runner import DLBOOK, read, run_dlbook

from dlbook.config.adhoc import with_custom_base

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_dataset_or_model_without_an_experiment_gets_the_custom_base():
    assert with_custom_base([]) == []  # `dlbook train`: the book's default, Boston housing
    assert with_custom_base(["seed=3"]) == ["seed=3"]
    assert with_custom_base(["dataset=named_arrays", "dataset.path=my.npz", "model=functional"]) == [
        "experiment=custom",
        "name=named_arrays-functional",
        "dataset=named_arrays",
        "dataset.path=my.npz",
        "model=functional",
    ]
    assert with_custom_base(["model=sequential", "name=mine"]) == ["experiment=custom", "model=sequential", "name=mine"]
    assert with_custom_base(["-m", "model=mlp,sequential"]) == ["experiment=custom", "-m", "model=mlp,sequential"]
    # An experiment chosen, or a resumed run: nothing added.
    assert with_custom_base(["experiment=imdb", "model=mlp"]) == ["experiment=imdb", "model=mlp"]
    assert with_custom_base(["resume=outputs/x", "model=mlp"]) == ["resume=outputs/x", "model=mlp"]
    assert with_custom_base(["model.units=8"]) == ["model.units=8"]  # a key, not a group choice


def _composed(tmp_path, *arguments: str) -> dict:
    result = run_dlbook("train", *arguments, "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return yaml.safe_load(result.stdout)


def test_an_ad_hoc_run_inherits_nothing_from_boston_housing(tmp_path):
    cfg = _composed(tmp_path, "dataset=named_arrays", "dataset.path=my.npz", "model=sequential")
    assert cfg["name"] == "named_arrays-sequential"
    assert cfg["reference"] is None and cfg["book"] is None
    assert cfg["task"]["_target_"] == "dlbook.tasks.holdout.run" and cfg["task"]["validation"]["size"] == 0.2
    assert (cfg["trainer"]["epochs"], cfg["trainer"]["batch_size"]) == (20, 512)
    default = _composed(tmp_path)  # `dlbook train` alone is still the book's Boston housing, k-fold
    assert default["name"] == "boston_housing" and default["task"]["_target_"] == "dlbook.tasks.kfold.run"


def test_a_missing_user_config_folder_is_one_paragraph_and_exit_2(tmp_path):
    result = run_dlbook("train", "experiment=mine", cwd=tmp_path, env={"DLBOOK_CONFIG_PATH": str(tmp_path / "nope")})
    assert result.returncode == 2
    assert "DLBOOK_CONFIG_PATH=" in result.stderr and "is not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "outputs").exists()


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Your own experiment", 1)[1].split("\n## ", 1)[0]


def _block_after(section: str, label: str) -> str:
    """The fenced code block that follows ``label`` in the README section."""
    match = re.search(re.escape(label) + r".*?```\w*\n(.*?)```", section, re.S)
    assert match, label
    return match.group(1)


def test_the_readmes_own_experiment_runs_from_a_folder_outside_the_checkout(tmp_path):
    section = _readme_section()
    project = tmp_path / "my_project"
    (project / "experiment").mkdir(parents=True)
    (project / "experiment" / "house_prices.yaml").write_text(
        _block_after(section, "`my_project/experiment/house_prices.yaml`:")
    )
    (project / "my_models.py").write_text(_block_after(section, "`my_project/my_models.py`:"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 13)).astype("float32")
    y = (x @ rng.normal(size=13) + 3.0).astype("float32")
    arrays = {"np": np, "x_train": x[:100], "y_train": y[:100], "x_test": x[100:], "y_test": y[100:]}
    save = _block_after(section, "Your arrays go into one `.npz`")
    cwd = os.getcwd()
    try:
        os.chdir(project)
        exec(save, arrays)  # the README's np.savez line, on arrays of the README's shapes
    finally:
        os.chdir(cwd)
    assert (project / "houses.npz").is_file()

    command = shlex.split(_block_after(section, "Then, from `my_project/`:").strip())
    variables = dict(item.split("=", 1) for item in command if re.fullmatch(r"[A-Z_]+=.*", item))
    arguments = command[len(variables) + 1 :]  # after `dlbook`
    assert command[len(variables)] == "dlbook" and arguments[0] == "train"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["KERAS_HOME"] = str(tmp_path / "keras_home")
    # The user's PYTHONPATH (.) plus where this test finds dlbook itself (an installed dlbook needs none).
    source = str(Path(__file__).resolve().parents[2] / "src")
    environment.update(variables, PYTHONPATH=os.pathsep.join([variables.get("PYTHONPATH", "."), source]))
    result = subprocess.run([*DLBOOK, *arguments], cwd=project, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (project / "outputs" / "house_prices").iterdir()
    assert read(run_dir / "status.json")["status"] == "completed"
    metrics = read(run_dir / "metrics.json")
    assert "mae" in metrics["test"]
    assert not metrics.get("reference")  # no book comparison for your own experiment
    assert "no reference numbers from the book" in result.stdout

    # --config-dir finds the same file for one command.
    config_dir = subprocess.run(
        [*DLBOOK, "train", "--config-dir", ".", "experiment=house_prices", "--cfg", "job"],
        cwd=project,
        env={**environment, "DLBOOK_CONFIG_PATH": ""},
        capture_output=True,
        text=True,
    )
    assert config_dir.returncode == 0, config_dir.stderr[-3000:]
    assert yaml.safe_load(config_dir.stdout)["model"]["_target_"] == "my_models.regressor"


def test_the_readmes_loader_contract_with_a_layer_list(tmp_path):
    """Your own loader returning DataSplits of plain arrays, and a Keras layer list as the model."""
    project = tmp_path / "mine"
    (project / "experiment").mkdir(parents=True)
    (project / "my_data.py").write_text(
        "import numpy as np\n"
        "from dlbook.datasets.io.examples import DataSplits, Examples\n\n\n"
        "def load(rows=80):\n"
        "    rng = np.random.default_rng(0)\n"
        "    x = rng.normal(size=(rows, 4)).astype('float32')\n"
        "    y = x.sum(axis=1, keepdims=True)\n"
        "    half = rows // 2\n"
        "    return DataSplits(train=Examples(x[:half], y[:half]), test=Examples(x[half:], y[half:]),\n"
        "                      input_shape=(4,), source='my generator', differs_from_book='my own data')\n"
    )
    (project / "experiment" / "sums.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /dataset: null\n  - override /model: sequential\n  - _self_\n"
        "name: sums\n"
        "dataset: {_target_: my_data.load, rows: 80}\n"
        "model: {layers: [{_target_: keras.layers.Dense, units: 8, activation: relu},"
        " {_target_: keras.layers.Dense, units: 1}]}\n"
        "trainer: {epochs: 2, batch_size: 8, loss: mse, metrics: [mae]}\n"
    )
    source = str(Path(__file__).resolve().parents[2] / "src")
    result = run_dlbook(
        "train",
        "experiment=sums",
        cwd=project,
        env={"DLBOOK_CONFIG_PATH": str(project), "PYTHONPATH": os.pathsep.join([str(project), source])},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (project / "outputs" / "sums").iterdir()
    assert "mae" in read(run_dir / "metrics.json")["test"]
