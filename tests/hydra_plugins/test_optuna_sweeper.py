"""dlbook's Optuna sweeper: the search-space grammar, the study bookkeeping (with a stand-in launcher), and
real `dlbook train -m hparams_search=boston_optuna` searches (a continued study, a failing trial)."""

from __future__ import annotations

import math
import pickle
from types import SimpleNamespace

import optuna
import pytest
import yaml
from cli_runner import read, run_dlbook
from composing import compose_train_config
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from dlbook.errors import ConfigError
from hydra_plugins.dlbook_optuna.config import DlbookOptunaSweeperConf
from hydra_plugins.dlbook_optuna.search_space import parse_search_space
from hydra_plugins.dlbook_optuna.sweeper import DlbookOptunaSweeper

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- the search space -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "distribution"),
    [
        ("choice(4,16,512)", CategoricalDistribution([4, 16, 512])),
        ("4,16", CategoricalDistribution([4, 16])),
        ("range(1,10)", IntDistribution(1, 9)),  # Hydra's range: stop excluded
        ("range(2,11,4)", IntDistribution(2, 10, step=4)),
        ("range(0,1,0.25)", FloatDistribution(0.0, 0.75, step=0.25)),
        ("interval(0.0,0.5)", FloatDistribution(0.0, 0.5)),
        ("interval(1,5)", FloatDistribution(1.0, 5.0)),  # Hydra reads interval bounds as floats
        ("int(interval(1,100))", IntDistribution(1, 100)),
        ("tag(log, interval(1e-4,1e-2))", FloatDistribution(1e-4, 1e-2, log=True)),
        ("tag(log, int(interval(8,512)))", IntDistribution(8, 512, log=True)),
    ],
)
def test_sweeps_become_optuna_distributions(text, distribution):
    space = parse_search_space({"model.units": text}, [])
    assert space.distributions == {"model.units": distribution}
    assert space.fixed == []


def test_plain_values_and_other_overrides_are_fixed_and_the_command_line_wins():
    space = parse_search_space(
        {"model.units": "choice(4,16)", "trainer.epochs": 20, "model.dropout": "interval(0.0,0.5)"},
        ["model.units=32,64", "debug=fast", "~callbacks.tensorboard"],
    )
    assert space.distributions == {
        "model.dropout": FloatDistribution(0.0, 0.5),
        "model.units": CategoricalDistribution([32, 64]),
    }
    assert space.fixed == ["trainer.epochs=20", "debug=fast", "~callbacks.tensorboard"]


def test_sampled_values_go_back_as_overrides_that_parse_to_the_same_values():
    space = parse_search_space(
        {
            "optimizer.learning_rate": "tag(log, interval(1e-6,1e-2))",
            "model.units": "choice([16,16],[64,32])",
            "model.activation": "choice(relu, 'leaky relu')",
            "trainer.shuffle": "choice(true,false)",
        },
        ["debug=fast"],
    )
    assert space.distributions["model.units"] == CategoricalDistribution(["[16,16]", "[64,32]"])
    params = {
        "optimizer.learning_rate": 1.5e-05,
        "model.units": "[64,32]",
        "model.activation": "'leaky relu'",
        "trainer.shuffle": "false",
    }
    overrides = space.overrides(params)
    assert overrides[-1] == "debug=fast"
    parsed = {
        override.key_or_group: override.value() for override in OverridesParser.create().parse_overrides(overrides)
    }
    assert parsed["optimizer.learning_rate"] == 1.5e-05
    assert parsed["model.units"] == [64, 32]
    assert parsed["model.activation"] == "leaky relu"
    assert parsed["trainer.shuffle"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interval(0.5,0.1)", "model.units=interval"),  # low above high
        ("tag(log, interval(0.0,1.0))", "model.units=tag"),  # a log scale from 0
        ("range(5,1)", "holds no value"),
        ("choice(4,", "override grammar"),
    ],
)
def test_invalid_search_spaces_name_the_key(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_search_space({"model.units": text}, [])


# --- the study's bookkeeping, with a stand-in launcher ---------------------------------------------------


def pruned_error(epoch: int) -> optuna.TrialPruned:
    """The exception a pruned job ends with, as it arrives from another process (pickled)."""
    error = optuna.TrialPruned(f"pruned after epoch {epoch}")
    error.epoch = epoch
    return pickle.loads(pickle.dumps(error))


class StandInLauncher:
    """Returns a prepared outcome per trial number (a value, or an exception for a failed job)."""

    def __init__(self, outcomes):
        self.outcomes = outcomes
        self.launches: list[tuple[int, list[list[str]]]] = []

    def launch(self, job_overrides, initial_job_idx):
        self.launches.append((initial_job_idx, [list(overrides) for overrides in job_overrides]))
        results = []
        for overrides in job_overrides:
            number = int(next(item for item in overrides if item.startswith("trial="))[len("trial=") :])
            outcome = self.outcomes[number]
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # an interrupt
            result = JobReturn(overrides=overrides)
            result.status = JobStatus.FAILED if isinstance(outcome, Exception) else JobStatus.COMPLETED
            result.return_value = outcome
            results.append(result)
        return results


def make_sweeper(tmp_path, outcomes, **settings) -> DlbookOptunaSweeper:
    conf = OmegaConf.merge(
        OmegaConf.structured(DlbookOptunaSweeperConf),
        {
            "storage": f"sqlite:///{tmp_path}/optuna.db",
            "study_name": "demo",
            "sampler": {"seed": 0},
            "params": {"model.units": "choice(4,16,512)", "optimizer.learning_rate": "tag(log, interval(1e-4,1e-2))"},
        },
        settings,
    )
    sweeper = DlbookOptunaSweeper(**{key: conf[key] for key in conf if key != "_target_"})
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, "objective": "val.loss"})
    sweeper.hydra_context = SimpleNamespace(config_loader=None)
    sweeper.launcher = StandInLauncher(outcomes)
    sweeper.validate_batch_is_legal = lambda batch: None  # nothing to compose here
    return sweeper


def load_study(tmp_path) -> optuna.Study:
    return optuna.load_study(study_name="demo", storage=f"sqlite:///{tmp_path}/optuna.db")


def test_failed_pruned_and_valueless_jobs_are_told_and_the_search_goes_on(tmp_path):
    outcomes = {0: 2.0, 1: ValueError("units=-4"), 2: pruned_error(3), 3: None, 4: math.nan, 5: 1.0}
    sweeper = make_sweeper(tmp_path, outcomes, n_trials=6, n_jobs=4)
    sweeper.sweep(["debug=fast"])

    # Batches of n_jobs, launched so that job folder = trial number.
    assert [(start, len(batch)) for start, batch in sweeper.launcher.launches] == [(0, 4), (4, 2)]
    first_job = sweeper.launcher.launches[0][1][0]
    assert first_job[0].startswith("model.units=") and first_job[1].startswith("optimizer.learning_rate=")
    assert first_job[2:] == ["debug=fast", "trial=0"]

    trials = load_study(tmp_path).trials
    assert [trial.state for trial in trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.FAIL,
        TrialState.COMPLETE,
    ]
    assert trials[1].user_attrs["error"] == "ValueError: units=-4"
    assert "not a number" in trials[3].user_attrs["error"]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["best_trial"] == 5 and results["best_value"] == 1.0
    assert results["best_params"] == trials[5].params
    assert results["best_overrides"] == sweeper.launcher.launches[1][1][1][:-1]  # trial 5, without trial=
    assert results["trials"] == {"complete": 2, "pruned": 1, "failed": 3, "total": 6}
    assert (tmp_path / "multirun.yaml").is_file()

    # The same storage again: the study goes on with n_trials more, numbered (and foldered) on.
    again = make_sweeper(tmp_path, {6: 0.5, 7: 3.0}, n_trials=2, n_jobs=4)
    again.sweep(["debug=fast"])
    assert [(start, len(batch)) for start, batch in again.launcher.launches] == [(6, 2)]
    assert len(load_study(tmp_path).trials) == 8
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["best_trial"] == 6 and results["trials"]["total"] == 8


def test_an_interrupted_batch_leaves_no_trial_running(tmp_path):
    sweeper = make_sweeper(tmp_path, {0: 1.0, 1: KeyboardInterrupt()}, n_trials=4, n_jobs=2)
    with pytest.raises(KeyboardInterrupt):
        sweeper.sweep([])
    assert [trial.state for trial in load_study(tmp_path).trials] == [TrialState.FAIL, TrialState.FAIL]


def test_a_continued_study_keeps_its_direction(tmp_path):
    make_sweeper(tmp_path, {0: 1.0}, n_trials=1).sweep([])
    with pytest.raises(ConfigError, match="hydra.sweeper.direction=maximize is not valid for the existing study"):
        make_sweeper(tmp_path, {}, direction="maximize").sweep([])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"direction": "down"}, "hydra.sweeper.direction=down"),
        ({"n_trials": 0}, "hydra.sweeper.n_trials=0"),
        ({"sampler": {"name": "grid"}}, "hydra.sweeper.sampler.name=grid"),
        ({"pruner": {"name": "hyperband"}}, "hydra.sweeper.pruner.name=hyperband"),
        ({"params": {"model.units": 16}}, "nothing to search"),
    ],
)
def test_invalid_settings_stop_the_search_before_any_trial(tmp_path, settings, message):
    sweeper = make_sweeper(tmp_path, {}, **settings)
    if "params" in settings:
        sweeper.params = dict(settings["params"])
    with pytest.raises(ConfigError, match=message):
        sweeper.sweep([])
    assert sweeper.launcher.launches == []


# --- real searches --------------------------------------------------------------------------------------

# The quick demo of conf/hparams_search/boston_optuna.yaml, made smaller still: 2 folds, no final retraining.
SEARCH = (
    "hparams_search=boston_optuna",
    "debug=fast",
    "callbacks=none",
    "task.folds=2",
    "task.retrain=null",
)


SWEEPER_NOT_CHOSEN = (
    "hparams_search=boston_optuna did not choose dlbook's Optuna sweeper: an `override hydra/sweeper` in "
    "train.yaml's own defaults list outranks the one of any config group; put the default sweeper in "
    "conf/hydra/default.yaml instead (`defaults: [override sweeper: dlbook]`), which hparams_search can override"
)


def test_hparams_search_selects_dlbooks_optuna_sweeper():
    try:
        cfg = compose_train_config("hparams_search=boston_optuna")
    except Exception as error:  # the other sweeper's settings have no `direction`, `n_trials`, ...
        pytest.fail(f"{SWEEPER_NOT_CHOSEN}: {error}")
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.dlbook_optuna.sweeper.DlbookOptunaSweeper", SWEEPER_NOT_CHOSEN
    assert cfg.objective == "kfold.val_mae_mean"
    assert cfg.hydra.sweeper.storage.endswith("/optuna.db")


def study_in(sweep_dir) -> optuna.Study:
    return optuna.load_study(study_name="boston_housing", storage=f"sqlite:///{sweep_dir}/optuna.db")


def job_dirs(sweep_dir) -> list[str]:
    return sorted((path.name for path in sweep_dir.iterdir() if path.name.isdigit()), key=int)


@pytest.mark.slow
def test_a_search_completes_and_continues_in_the_same_sweep_directory(tmp_path):
    # Two trials at a time, on two CPU workers.
    search = (*SEARCH, "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "hydra.launcher.cpu_workers=2")
    first = run_dlbook("train", "-m", *search, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    assert job_dirs(sweep_dir) == ["0", "1", "2", "3"]
    trials = study_in(sweep_dir).trials
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * 4
    for trial in trials:
        metrics = read(sweep_dir / str(trial.number) / "metrics.json")
        assert trial.value == pytest.approx(metrics["kfold"]["val_mae_mean"])
        assert f"trial: {trial.number}" in (sweep_dir / str(trial.number) / ".hydra" / "config.yaml").read_text()
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    best = min(trials, key=lambda trial: trial.value)
    assert results["best_trial"] == best.number and results["best_value"] == pytest.approx(best.value)
    assert results["best_params"] == best.params
    assert results["trials"] == {"complete": 4, "pruned": 0, "failed": 0, "total": 4}

    again = run_dlbook("train", "-m", *search, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert job_dirs(sweep_dir) == [str(number) for number in range(8)]
    trials = study_in(sweep_dir).trials
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * 8
    for number in range(4, 8):
        assert read(sweep_dir / str(number) / "status.json")["status"] == "completed"
    assert yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())["trials"]["total"] == 8


@pytest.mark.slow
def test_a_failing_trial_is_fail_and_the_others_complete(tmp_path):
    # A negative number of units composes but fails when the model is built. With this seed the random
    # sampler draws -4 then 16 (if an Optuna release draws otherwise, choose another seed).
    done = run_dlbook(
        "train",
        "-m",
        *SEARCH,
        "model.units=-4,16",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.name=random",
        "hydra.sweeper.sampler.seed=0",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "outputs" / "multirun" / "boston_housing").iterdir()
    trials = study_in(sweep_dir).trials
    states = {trial.params["model.units"]: trial.state for trial in trials}
    assert states == {-4: TrialState.FAIL, 16: TrialState.COMPLETE}, "the seed no longer draws both values"
    failed = next(trial for trial in trials if trial.state == TrialState.FAIL)
    assert read(sweep_dir / str(failed.number) / "status.json")["status"] == "failed"
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_params"]["model.units"] == 16
    assert results["trials"] == {"complete": 1, "pruned": 0, "failed": 1, "total": 2}


# --- no selection on the test set -----------------------------------------------------------------------


def on_the_test_set(tmp_path):
    """A search's config as book 4.4's experiment has it: validation = the test split."""
    validation = {"validation": {"source": "test"}}
    return OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, "objective": "val.loss", "task": validation})


def test_a_search_validating_on_the_test_set_is_refused_before_any_trial(tmp_path, capsys):
    sweeper = make_sweeper(tmp_path, {0: 0.3}, n_trials=1)
    sweeper.config = on_the_test_set(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        sweeper.sweep([])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("dlbook: error: This search would select on the test set")
    assert "objective=val.loss" in error and "hydra.sweeper.monitor=val_loss" in error
    assert "hydra.sweeper.allow_test_selection=true" in error and error.count("\n") == 1  # one paragraph
    assert sweeper.launcher.launches == [] and not (tmp_path / "optuna.db").exists()


@pytest.mark.parametrize(
    ("config", "arguments", "refused"),
    [
        ({"objective": "test.accuracy"}, [], True),  # the objective itself is a test score
        ({"objective": "val.loss"}, ["task.validation.source=train,test"], True),  # searched onto the test set
        ({"objective": "val.loss", "task": {"validation": {"source": "train"}}}, [], False),
        ({"objective": "kfold.val_mae_mean"}, [], False),  # folds of the training data
    ],
)
def test_every_objective_on_the_test_set_is_refused(tmp_path, config, arguments, refused):
    sweeper = make_sweeper(tmp_path, {0: 0.3}, n_trials=1)
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, **config})
    if refused:
        with pytest.raises(SystemExit):
            sweeper.sweep(arguments)
        assert sweeper.launcher.launches == []
    else:
        sweeper.sweep(arguments)
        assert len(sweeper.launcher.launches) == 1


def test_allow_test_selection_is_the_explicit_way_to_search_on_the_test_set(tmp_path):
    sweeper = make_sweeper(tmp_path, {0: 0.3}, n_trials=1, allow_test_selection=True)
    sweeper.config = on_the_test_set(tmp_path)
    sweeper.sweep([])
    assert load_study(tmp_path).best_value == 0.3


def test_the_best_trials_test_score_is_reported_once_after_selection(tmp_path):
    class WithRunDirs(StandInLauncher):
        """Each job gets a run directory whose metrics.json holds a test score (the worst for the best trial)."""

        def launch(self, job_overrides, initial_job_idx):
            results = super().launch(job_overrides, initial_job_idx)
            for offset, result in enumerate(results):
                run_dir = tmp_path / str(initial_job_idx + offset)
                run_dir.mkdir()
                accuracy = 0.80 + 0.01 * (initial_job_idx + offset)
                (run_dir / "metrics.json").write_text(f'{{"test": {{"accuracy": {accuracy}, "loss": 0.4}}}}')
                result.hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(run_dir)}}})
            return results

    sweeper = make_sweeper(tmp_path, {}, n_trials=3)
    sweeper.launcher = WithRunDirs({0: 0.5, 1: 0.2, 2: 0.4})
    sweeper.sweep([])
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    # Chosen on the validation objective (trial 1), not on the test accuracy (trial 2 has the highest).
    assert results["best_trial"] == 1
    assert results["best_test"] == {"accuracy": pytest.approx(0.81), "loss": pytest.approx(0.4)}


def test_the_documented_imdb_search_validates_on_held_out_training_reviews():
    from dlbook.config.selection import selection_on_test

    cfg = compose_train_config("experiment=imdb_original", "hparams_search=imdb_optuna")
    assert OmegaConf.to_container(cfg.task.validation) == {"source": "train", "size": 10000, "take": "first"}
    assert selection_on_test(cfg, cfg.hydra.sweeper.monitor) is None
    # Book 4.4's own experiment validates on the test reviews: searching it as it is would be refused.
    book = compose_train_config("experiment=imdb_original", "hparams_search=imdb_optuna", "task.validation.source=test")
    assert selection_on_test(book, book.hydra.sweeper.monitor) is not None


def test_dlbook_refuses_a_search_on_the_test_reviews_in_one_paragraph(tmp_path):
    done = run_dlbook(
        "train",
        "-m",
        "experiment=imdb_original",
        "hparams_search=imdb_optuna",
        "task.validation.source=test",
        "task.validation.size=null",
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "dlbook: error: This search would select on the test set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "outputs").rglob("status.json"))  # no trial ran
