"""The job side of dlbook's Optuna sweeper: per-epoch reports to the trial, pruning, a "pruned" run."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import optuna
import pytest
from composing import compose_train_config
from hydra.core.hydra_config import HydraConfig

from dlbook.run.directory import RunDirectory, read_json
from dlbook.run.pruning import find_pruned, open_storage, pruning_callback, pruning_callbacks

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study_with_two_completed_trials(storage, name="demo", warmup=0):
    """A study whose two completed trials had val_loss 1.0 and 1.2 at steps 0..9 (median 1.1)."""
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="minimize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup),
    )
    for value in (1.0, 1.2):
        trial = study.ask()
        for step in range(10):
            trial.report(value, step)
        study.tell(trial, value)
    return study


def _fitted(callback):
    """The callback attached to a stand-in model (the callback only sets its stop_training)."""
    callback.set_model(SimpleNamespace(stop_training=False))
    return callback


def test_a_trial_worse_than_the_median_is_pruned_at_the_end_of_the_fit(tmp_path):
    study = _study_with_two_completed_trials(f"sqlite:///{tmp_path}/optuna.db")
    trial = study.ask()
    callback = _fitted(pruning_callback(trial, "val_loss", first_step=3))
    callback.on_epoch_end(0, {"loss": 0.3, "val_loss": 5.0})
    assert callback.model.stop_training  # the fit stops after this epoch ...
    with pytest.raises(optuna.TrialPruned, match="epoch 4") as raised:
        callback.on_train_end()  # ... and the trial's end is raised once the other callbacks are done
    assert raised.value.epoch == 4  # steps count on over the run's fits: 3 earlier epochs, then this one
    assert study.trials[trial.number].intermediate_values == {3: 5.0}


def test_a_trial_better_than_the_median_goes_on(tmp_path):
    study = _study_with_two_completed_trials(f"sqlite:///{tmp_path}/optuna.db")
    trial = study.ask()
    callback = _fitted(pruning_callback(trial, "val_loss"))
    for epoch, value in enumerate((1.05, 0.9, 0.8)):
        callback.on_epoch_end(epoch, {"val_loss": value})
    callback.on_epoch_end(3, {"loss": 0.1})  # a fit without validation reports nothing
    callback.on_train_end()
    assert not callback.model.stop_training
    assert study.trials[trial.number].intermediate_values == {0: 1.05, 1: 0.9, 2: 0.8}


def test_no_pruning_during_the_warm_up_epochs(tmp_path):
    study = _study_with_two_completed_trials(f"sqlite:///{tmp_path}/optuna.db", warmup=2)
    callback = _fitted(pruning_callback(study.ask(), "val_loss"))
    callback.on_epoch_end(0, {"val_loss": 9.0})
    callback.on_epoch_end(1, {"val_loss": 9.0})
    assert not callback.model.stop_training
    callback.on_epoch_end(2, {"val_loss": 9.0})
    assert callback.model.stop_training


def test_the_pruned_exception_crosses_a_process_boundary_with_its_epoch():
    error = optuna.TrialPruned("pruned")
    error.epoch = 7
    copy = pickle.loads(pickle.dumps(error))
    assert find_pruned(copy) is copy and copy.epoch == 7
    wrapped = RuntimeError("in a callback")
    wrapped.__cause__ = copy
    assert find_pruned(wrapped) is copy
    assert find_pruned(ValueError("a real failure")) is None


def test_a_pruned_run_says_so_in_its_status(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start("boston_housing")
    run.prune("boston_housing", 12, "trial 3 pruned after epoch 12")
    status = read_json(run.file("status.json"))
    assert status["status"] == "pruned" and status["epoch"] == 12
    assert status["started"] < status["ended"]


def test_no_callback_outside_an_optuna_search():
    cfg = compose_train_config("debug=fast")
    assert pruning_callbacks(cfg) == []  # trial is null
    cfg.trial = 0
    assert pruning_callbacks(cfg) == []  # no Hydra job of dlbook's Optuna sweeper
    HydraConfig.instance().set_config(cfg)
    try:
        assert pruning_callbacks(cfg) == []  # a job of another sweeper
    finally:
        HydraConfig.instance().cfg = None


def _job_config(tmp_path, trial_number, *extra):
    """The config of a job of dlbook's Optuna sweeper for trial ``trial_number`` of the study in tmp_path."""
    return compose_train_config(
        "hparams_search=boston_optuna",
        "hydra/sweeper=dlbook_optuna",
        "debug=fast",
        "callbacks=none",
        f"trial={trial_number}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
        "hydra.sweeper.monitor=val_loss",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        f"paths.run_dir={tmp_path / 'run'}",
        *extra,
    )


@pytest.fixture
def optuna_job(tmp_path):
    """A job as dlbook's Optuna sweeper launches it (trial 2 of a study in tmp_path), with HydraConfig set."""
    study = _study_with_two_completed_trials(f"sqlite:///{tmp_path}/optuna.db", name="boston_housing")
    trial = study.ask()
    cfg = _job_config(tmp_path, trial.number, "hydra.mode=MULTIRUN")
    HydraConfig.instance().set_config(cfg)
    yield cfg, study, trial
    HydraConfig.instance().cfg = None


def test_a_search_job_gets_a_callback_bound_to_its_trial(optuna_job):
    cfg, study, trial = optuna_job
    (callback,) = pruning_callbacks(cfg, epochs_done=5)
    assert callback.trial.number == trial.number and callback.first_step == 5
    assert callback.monitor == "val_loss"
    assert open_storage(None, ".") is None


def test_a_single_run_repeating_a_trial_reports_nothing(tmp_path):
    """`dlbook train <best_overrides>` composes hparams_search=... too, but is no job of the search."""
    cfg = _job_config(tmp_path, 0, "hydra.mode=RUN")
    HydraConfig.instance().set_config(cfg)
    try:
        assert pruning_callbacks(cfg) == []
    finally:
        HydraConfig.instance().cfg = None


def test_a_pruned_trial_ends_its_run_as_pruned(optuna_job):
    """The real train(): the first fold's first epoch is far worse than the earlier trials' 1.0 and 1.2."""
    from dlbook.commands.train import train

    cfg, study, trial = optuna_job
    with pytest.raises(optuna.TrialPruned):
        train(cfg)
    status = read_json(RunDirectory(cfg.paths.run_dir).file("status.json"))
    assert status["status"] == "pruned" and status["epoch"] == 1
    assert list(study.trials[trial.number].intermediate_values) == [0]
