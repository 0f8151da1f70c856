"""What a run records for later: the plain command that repeats it, and its tags (status.json, HParams)."""

from __future__ import annotations

import json

from composing import compose_train_config

from dlbook.results.hparams import run_hyperparameters
from dlbook.run.directory import RunDirectory
from dlbook.run.run_record import record_tags, rerun_command, run_tags


def test_rerun_command_is_the_overrides_as_typed_without_launch_only_ones():
    overrides = ["experiment=imdb", "seed=3", "model.units=[16,32]", "trial=7", "resume=outputs/x", "+a.b=c d"]
    command = rerun_command(overrides)
    assert command == "dlbook train experiment=imdb seed=3 'model.units=[16,32]' '+a.b=c d'"
    with_folder = rerun_command(["seed=1"], ["/home/me/my configs"])
    assert with_folder == "dlbook train --config-dir '/home/me/my configs' seed=1"


def test_tags_stay_in_status_json_through_every_later_status(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start("imdb")
    record_tags(run.path, ["baseline", "lr-study"])
    run.complete("imdb", {"test": {"accuracy": 0.9}})
    status = json.loads((run.path / "status.json").read_text())
    assert status["status"] == "completed" and status["tags"] == ["baseline", "lr-study"]


def test_tags_are_a_config_key_and_an_hparams_column():
    cfg = compose_train_config("tags=[baseline,lr-study]")
    assert run_tags(cfg) == ["baseline", "lr-study"]
    assert run_hyperparameters(cfg, ["tags=[baseline,lr-study]"])["tags"] == "baseline,lr-study"
    assert run_tags(compose_train_config()) == []
    assert "tags" not in run_hyperparameters(compose_train_config(), [])
