"""Bad input ends with a clear message and a non-zero exit, never with a run marked completed.

Each case runs the real `dlbook` command. Mistakes in the command line itself (unknown key or
option, a value of the wrong type or range) are found before TensorFlow is imported, so those
tests take about a second; the dataset cases load TensorFlow first (a few seconds).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile

import pytest
from cli_runner import read, run_dirs, run_dlbook
from fake_images import write_split_tree
from fake_text import write_jena_csv
from fakes import write_imdb_npz

from dlbook.config.composition import composition_problem

IMDB_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"


def assert_user_error(result, *parts: str) -> str:
    """Exit status 2 and one paragraph (one line) naming every part, without a traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("dlbook: error: "), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in message, message
    return message


def assert_no_completed_run(workdir) -> None:
    """No status.json under workdir/outputs says completed, and no metrics.json was written."""
    for status in (workdir / "outputs").rglob("status.json"):
        assert read(status)["status"] != "completed", status
        assert not status.with_name("metrics.json").exists()


def assert_one_failed_run(workdir, experiment: str, error_type: str) -> None:
    (run_dir,) = run_dirs(workdir / "outputs", experiment)
    status = read(run_dir / "status.json")
    assert status["status"] == "failed" and status["error"]["type"] == error_type
    assert_no_completed_run(workdir)


# 1. Unknown experiment or config group option: the valid ones, and the closest.


@pytest.mark.parametrize(
    ("override", "parts"),
    [
        ("experiment=imbd", ["experiment/imbd", "Did you mean imdb", "boston_housing", "reuters", "dlbook --help"]),
        ("model=mlpp", ["model/mlpp", "Did you mean mlp?", "dcgan, functional, last_value, mlp, sequential, vae"]),
        ("optimizer=adamw", ["optimizer/adamw", "adam, rmsprop, sgd"]),
    ],
)
def test_unknown_experiment_or_option_lists_the_valid_ones(tmp_path, override, parts):
    result = run_dlbook("train", override, cwd=tmp_path)
    assert_user_error(result, f"{override} is not valid", *parts)
    assert not (tmp_path / "outputs").exists()


# 2. Unknown key: the closest valid keys, one paragraph, exit 2.


@pytest.mark.parametrize(
    ("arguments", "parts"),
    [
        (["trainer.epoch=3"], ["trainer.epoch=3 is not valid: the config has no key trainer.epoch", "trainer.epochs"]),
        (["modle.units=3"], ["the config has no key modle.units", "Did you mean model.units?"]),
        (["optimizer.lr=0.1"], ["the config has no key optimizer.lr", "optimizer.learning_rate"]),
        (["experiment=imdb", "dataset.numwords=100"], ["no key dataset.numwords", "dataset.num_words"]),
        (["--cfg", "job", "trainer.epoch=3"], ["no key trainer.epoch", "trainer.epochs"]),
        (["-m", "trainer.epoch=1,2"], ["trainer.epoch=1,2 is not valid", "trainer.epochs"]),
        (["-m", "trainer.epochs=1,2", "hydra.launcher.gpu=1"], ["no key hydra.launcher.gpu", "hydra.launcher.gpus"]),
    ],
)
def test_unknown_key_names_the_closest_valid_keys(tmp_path, arguments, parts):
    result = run_dlbook("train", *arguments, cwd=tmp_path)
    message = assert_user_error(result, *parts)
    assert "--cfg" in message  # where to see every key
    assert not (tmp_path / "outputs").exists()  # not even a sweep folder


def test_an_unknown_key_is_reported_without_importing_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from dlbook.cli import main\n"
        "try:\n"
        "    main(['train', 'trainer.epoch=3'])\n"
        "except SystemExit as stop:\n"
        "    print('exit', stop.code, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["exit", "2", "False"], result.stderr[-3000:]


def test_other_composition_errors_are_one_paragraph_too(tmp_path):
    result = run_dlbook("train", "model.units=16,32", cwd=tmp_path)  # a sweep without -m
    assert_user_error(result, "model.units=16,32", "--multirun")
    assert not (tmp_path / "outputs").exists()


def test_adding_a_key_on_purpose_still_composes(tmp_path):
    result = run_dlbook("train", "+trainer.epoch=3", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch: 3" in result.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["experiment=imdb", "trainer.epochs=8"],
        ["-m", "model.units=16,32", "seed=0,1"],
        ["-m", "experiment=imdb,reuters", "dataset.num_words=100,200"],  # a key of the swept groups' configs
        ["-m", "experiment=boston_housing", "hparams_search=boston_optuna"],
        ["--help"],
        ["--info"],
    ],
)
def test_commands_that_compose_are_left_to_hydra(arguments):
    assert composition_problem("train", arguments) is None


def test_hydra_full_error_leaves_the_full_trace_to_hydra(monkeypatch):
    assert "trainer.epochs" in composition_problem("train", ["trainer.epoch=3"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    assert composition_problem("train", ["trainer.epoch=3"]) is None


# 3. Wrong type or range (found before TensorFlow is imported; the run is marked failed).


@pytest.mark.parametrize(
    ("arguments", "parts"),
    [
        (["trainer.epochs=-3"], ["trainer.epochs=-3 is not valid", "positive integer"]),
        (["trainer.batch_size=0"], ["trainer.batch_size=0 is not valid", "positive integer"]),
        (["optimizer.learning_rate=0"], ["optimizer.learning_rate=0 is not valid", "positive number"]),
        (["optimizer.learning_rate=-0.01"], ["optimizer.learning_rate=-0.01 is not valid"]),
        (["experiment=imdb", "task.validation.size=1.5"], ["task.validation.size=1.5 is not valid", "fraction"]),
        (["experiment=imdb", "task.validation.size=0"], ["task.validation.size=0 is not valid"]),
        (["task.folds=1"], ["task.folds=1 is not valid", "an integer >= 2"]),
        (["seed=1.5"], ["seed=1.5 is not valid", "an integer"]),
        (["seed=abc"], ["seed='abc' is not valid", "an integer"]),
    ],
)
def test_wrong_type_or_range_names_key_value_and_what_is_valid(tmp_path, arguments, parts):
    result = run_dlbook("train", *arguments, cwd=tmp_path)
    assert_user_error(result, *parts, "e.g. `dlbook train")
    experiment = next((item.split("=", 1)[1] for item in arguments if item.startswith("experiment=")), None)
    assert_one_failed_run(tmp_path, experiment or "boston_housing", "ConfigError")


def test_wrong_type_in_an_override_names_key_value_and_what_is_valid(tmp_path):
    result = run_dlbook("train", "trainer.epochs=ten", cwd=tmp_path)
    assert_user_error(result, "trainer.epochs='ten' is not valid", "positive integer")
    assert_one_failed_run(tmp_path, "boston_housing", "ConfigError")


def test_validation_count_as_large_as_the_training_set(tmp_path):
    data = write_imdb_npz(tmp_path / "imdb.npz", n_train=200, n_test=50)
    result = run_dlbook(
        "train", "experiment=imdb", "debug=fast", f"dataset.path={data}", "task.validation.size=200", cwd=tmp_path
    )
    assert_user_error(result, "task.validation.size=200 is not valid for 200 training examples", "between 1 and 199")
    assert_one_failed_run(tmp_path, "imdb", "ConfigError")


# 4. A dataset file that does not exist, or is not the file the loader reads.


def test_missing_file_offline_explains_both_ways_out(tmp_path):
    # An unreachable mirror stands for "no network": nothing listens on port 9 of the loopback.
    origin = "http://127.0.0.1:9/imdb.npz"
    result = run_dlbook(
        "train", "experiment=imdb", "debug=fast", f"dataset.origin={origin}", "dataset.file_hash=null", cwd=tmp_path
    )
    assert_user_error(result, "imdb", origin, "dataset.path=", str(tmp_path / "keras_home" / "datasets" / "imdb.npz"))
    assert_one_failed_run(tmp_path, "imdb", "DatasetUnavailableError")


def test_a_dataset_path_that_does_not_exist(tmp_path):
    result = run_dlbook("train", "experiment=imdb", "debug=fast", "dataset.path=no/such/imdb.npz", cwd=tmp_path)
    assert_user_error(result, "dataset.path=no/such/imdb.npz does not exist", "dataset.path=null")
    assert_one_failed_run(tmp_path, "imdb", "DatasetUnavailableError")


@pytest.mark.parametrize(
    ("experiment", "fname"),
    [("imdb", "imdb.npz"), ("mnist_dense", "mnist.npz")],
)
def test_a_text_file_given_to_a_keras_npz_loader(tmp_path, experiment, fname):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a dataset\n")
    result = run_dlbook("train", f"experiment={experiment}", "debug=fast", f"dataset.path={text}", cwd=tmp_path)
    assert_user_error(
        result,
        f"{text} is not a .npz file",
        f"Expected Keras' {fname}: a NumPy .npz archive holding the arrays x_train, y_train, x_test, y_test",
        f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/{fname}",
        "dataset.path",
    )
    assert_one_failed_run(tmp_path, experiment, "DatasetFormatError")


def test_an_npz_without_the_expected_arrays(tmp_path):
    other = tmp_path / "other.npz"
    with zipfile.ZipFile(other, "w"):
        pass  # an empty .npz: a zip with no arrays
    result = run_dlbook("train", "experiment=imdb", "debug=fast", f"dataset.path={other}", cwd=tmp_path)
    assert_user_error(result, f"{other} lacks the arrays x_train, y_train, x_test, y_test", IMDB_ORIGIN)
    assert_one_failed_run(tmp_path, "imdb", "DatasetFormatError")


# 5. An image that does not decode, a CSV row that does not parse.


def test_an_image_that_does_not_decode_is_named(tmp_path):
    tree = write_split_tree(tmp_path / "images", 2, size=(16, 16))
    broken = tree / "train" / "dogs" / "dogs.1.jpg"
    broken.write_bytes(broken.read_bytes()[:40])  # a truncated JPEG
    result = run_dlbook("train", "experiment=cats_vs_dogs_scratch", "debug=fast", f"dataset.path={tree}", cwd=tmp_path)
    assert_user_error(result, f"The image {broken} cannot be decoded", "dataset.on_bad_image=skip")
    assert_one_failed_run(tmp_path, "cats_vs_dogs_scratch", "DatasetFormatError")


def test_a_csv_row_that_does_not_parse_names_file_line_and_value(tmp_path):
    csv_file = write_jena_csv(tmp_path / "jena.csv", rows=60)
    lines = csv_file.read_text().split("\n")
    cells = lines[30].split(",")
    cells[2] = "12x"  # T (degC) of data row 30, line 31
    lines[30] = ",".join(cells)
    csv_file.write_text("\n".join(lines))
    result = run_dlbook("train", "experiment=jena_baseline", "debug=fast", f"dataset.path={csv_file}", cwd=tmp_path)
    assert_user_error(result, str(csv_file), "line 31 (data row 30)", "T (degC)", "'12x' is not a number")
    assert_one_failed_run(tmp_path, "jena_baseline", "DatasetFormatError")


# 6. run= (and trainer.init_from=) that is not a run directory.


@pytest.mark.parametrize("command", ["evaluate", "generate", "visualize"])
def test_a_folder_that_is_not_a_run(tmp_path, command):
    folder = tmp_path / "not_a_run"
    folder.mkdir()
    result = run_dlbook(command, f"run={folder}", cwd=tmp_path)
    assert_user_error(
        result,
        f"run={folder} is not a completed dlbook run: it has no model.keras and no .hydra/config.yaml",
        "A run directory is the folder `dlbook train` prints at its end",
    )
    assert list(folder.iterdir()) == []  # nothing written into it (no log file either)
    assert not (tmp_path / "outputs").exists()


def test_a_failed_run_is_not_a_run_to_evaluate(tmp_path):
    assert run_dlbook("train", "trainer.epochs=0", cwd=tmp_path).returncode == 2
    (failed,) = run_dirs(tmp_path / "outputs", "boston_housing")
    result = run_dlbook("evaluate", f"run={failed}", cwd=tmp_path)
    assert_user_error(result, f"run={failed} is not a completed dlbook run: its status.json says failed")


def test_init_from_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "not_a_run"
    folder.mkdir()
    result = run_dlbook("train", f"trainer.init_from={folder}", cwd=tmp_path)
    assert_user_error(result, f"trainer.init_from={folder} is not a completed dlbook run: it has no model.keras")
    assert_one_failed_run(tmp_path, "boston_housing", "ConfigError")


# A failed run never changes earlier runs.


def snapshot(folder) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its content hash and modification time."""
    return {
        str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_bad_runs_leave_a_good_run_unchanged(tmp_path):
    good = run_dlbook("train", "debug=fast", "task.folds=2", cwd=tmp_path)
    assert good.returncode == 0, good.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    before = snapshot(run_dir)
    assert "model.keras" in before and ".hydra/config.yaml" in before

    bad_value = run_dlbook("train", "debug=fast", "trainer.epochs=-1", cwd=tmp_path)
    assert_user_error(bad_value, "trainer.epochs=-1 is not valid")
    bad_key = run_dlbook("train", "trainer.epoch=3", cwd=tmp_path)
    assert_user_error(bad_key, "no key trainer.epoch")
    # Pointed at the good run's own folder: refused before Hydra would rewrite its .hydra/ files.
    same_folder = run_dlbook("train", f"hydra.run.dir={run_dir}", "trainer.epochs=-1", cwd=tmp_path)
    assert_user_error(same_folder, f"hydra.run.dir={run_dir} is not valid", "already holds an earlier run")
    bad_evaluate = run_dlbook("evaluate", f"run={run_dir}", "batch_sise=8", cwd=tmp_path)
    assert_user_error(bad_evaluate, "no key batch_sise", "batch_size")

    assert snapshot(run_dir) == before
    runs = run_dirs(tmp_path / "outputs", "boston_housing")
    assert len(runs) == 2 and read(runs[0] / "status.json")["status"] == "completed"
    assert read(runs[1] / "status.json")["status"] == "failed"


def test_a_failed_run_never_touches_earlier_runs(tmp_path):
    first = run_dlbook("train", "trainer.epochs=0", cwd=tmp_path)
    second = run_dlbook("train", "trainer.batch_size=-1", cwd=tmp_path)
    assert first.returncode == second.returncode == 2
    runs = run_dirs(tmp_path / "outputs", "boston_housing")
    assert len(runs) == 2
    assert ["trainer.epochs=0" in read(run / "status.json")["error"]["message"] for run in runs] == [True, False]
