"""Config values are checked before any work, with the key, the value and what is valid."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from dlbook.config.checks import check_config, run_directory_problem
from dlbook.errors import ConfigError

VALID = {
    "seed": 0,
    "deterministic": False,
    "trainer": {
        "epochs": 20,
        "batch_size": 512,
        "eval_batch_size": 512,
        "steps_per_execution": 1,
        "max_epochs": None,
        "max_steps": None,
        "progress": "epochs",
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "optimizer": {"learning_rate": 1e-3},
    "task": {"validation": {"size": 10000}, "folds": 4},
}


def test_a_valid_config_passes():
    check_config(OmegaConf.create(VALID))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("trainer.epochs", "ten", "trainer.epochs='ten' is not valid: expected a positive integer"),
        ("trainer.epochs", 2.5, "trainer.epochs=2.5 is not valid"),
        ("trainer.batch_size", 0, "trainer.batch_size=0 is not valid"),
        ("seed", "abc", "seed='abc' is not valid: expected an integer"),
        ("optimizer.learning_rate", -1, "optimizer.learning_rate=-1 is not valid: expected a positive number"),
        ("trainer.progress", "bars", "trainer.progress='bars' is not valid: expected one of none, epochs, batches"),
        ("trainer.metrics", "accuracy", "trainer.metrics='accuracy' is not valid"),
        ("trainer.epochs", -3, "trainer.epochs=-3 is not valid: expected a positive integer"),
        ("optimizer.learning_rate", 0, "optimizer.learning_rate=0 is not valid: expected a positive number"),
        ("seed", 1.5, "seed=1.5 is not valid: expected an integer"),
        ("task.validation.size", 1.0, "task.validation.size=1.0 is not valid: expected null (no validation slice)"),
        ("task.validation.size", 0, "task.validation.size=0 is not valid"),
        ("task.validation.size", -0.2, "task.validation.size=-0.2 is not valid"),
        ("task.validation.size", "10%", "task.validation.size='10%' is not valid"),
        ("task.folds", 1, "task.folds=1 is not valid: expected an integer >= 2"),
        ("task.folds", 2.0, "task.folds=2.0 is not valid"),
        ("tags", "baseline", "tags='baseline' is not valid: expected a list of distinct short labels"),
        ("tags", ["two words"], "tags=['two words'] is not valid: expected a list of distinct short labels"),
        ("tags", ["x" * 33], "is not valid: expected a list of distinct short labels, each 1 to 32"),
        ("tags", ["a", "a"], "tags=['a', 'a'] is not valid"),
        ("tags", [1], "tags=[1] is not valid"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_valid(key, value, expected):
    config = OmegaConf.create(VALID)
    OmegaConf.update(config, key, value)
    with pytest.raises(ConfigError) as raised:
        check_config(config)
    assert expected in str(raised.value)
    assert "e.g. `dlbook train" in str(raised.value)


@pytest.mark.parametrize("size", [None, 1, 10000, 0.2, 0.999])
def test_validation_sizes_that_pass(size):
    config = OmegaConf.create(VALID)
    OmegaConf.update(config, "task.validation.size", size)
    check_config(config)


def test_keys_a_task_does_not_have_are_not_checked():
    config = OmegaConf.create({key: value for key, value in VALID.items() if key != "task"})
    check_config(config)


def make_run(folder, status="completed", model=True, config=True):
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(f'{{"status": "{status}"}}')
    if model:
        (folder / "model.keras").write_bytes(b"zip")
    if config:
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "config.yaml").write_text("name: imdb\n")
    return folder


def test_a_completed_run_directory_passes(tmp_path):
    run = make_run(tmp_path / "run")
    assert run_directory_problem(str(run)) is None
    assert run_directory_problem(str(run), "trainer.init_from") is None


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda path: path, "does not exist"),
        (lambda path: path.write_text("x") and path, "is a file, not a folder"),
        (lambda path: path.mkdir() or path, "it has no model.keras and no .hydra/config.yaml"),
        (lambda path: make_run(path, status="failed", model=False), "its status.json says failed, so it has no model"),
        (lambda path: make_run(path, config=False), "it has no .hydra/config.yaml"),
    ],
)
def test_what_is_not_a_run_directory_and_why(tmp_path, make, expected):
    folder = make(tmp_path / "candidate")
    message = run_directory_problem(str(folder))
    assert message.startswith(f"run={folder} is not a completed dlbook run: ")
    assert expected in message
    assert "A run directory is the folder `dlbook train` prints at its end" in message
    assert "model.keras (the trained model), .hydra/config.yaml (its config)" in message


def test_a_sweep_folder_points_at_its_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    assert f"it is a sweep folder; give one of its job folders, e.g. run={sweep / '0'}" in run_directory_problem(
        str(sweep)
    )


def test_init_from_needs_a_model_only(tmp_path):
    config = OmegaConf.create(VALID)
    OmegaConf.update(config, "trainer.init_from", str(make_run(tmp_path / "run", config=False)), force_add=True)
    check_config(config)
    OmegaConf.update(config, "trainer.init_from", str(tmp_path), force_add=True)
    with pytest.raises(ConfigError, match=r"trainer.init_from=.* is not a completed dlbook run: it has no model.keras"):
        check_config(config)
