"""The settings of dlbook's Optuna sweeper (``hydra/sweeper=dlbook_optuna``, chosen by ``hparams_search=...``).

Every setting can be changed on the command line, e.g. ``hydra.sweeper.n_trials=40`` or
``hydra.sweeper.sampler.name=random``.

Continuing a search: the study lives in ``storage`` (by default ``optuna.db`` in the sweep directory).
Run the same command again with ``hydra.sweep.dir=<the earlier sweep directory>``: the study is loaded and
``n_trials`` more trials run, in new job folders numbered on from the earlier ones.
"""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore


@dataclass
class SamplerConf:
    # How new trials are chosen: tpe (Bayesian: 10 random trials, then guided by the earlier results) or random.
    name: str = "tpe"
    # null: different trials on every search. A number makes the search repeatable; a continued study
    # uses seed + (trials already in it), so it does not draw the same parameters again.
    seed: int | None = None


@dataclass
class PrunerConf:
    # median: stop a trial whose `monitor` value at some epoch is worse than the median of the completed
    # trials' values at that epoch. none: every trial runs to its end (values are still recorded).
    name: str = "median"
    # No pruning until this many trials have completed (the median needs some history).
    n_startup_trials: int = 5
    # No pruning in a trial's first epochs (counted over all fits of a run, e.g. all K folds).
    n_warmup_steps: int = 5


@dataclass
class DlbookOptunaSweeperConf:
    _target_: str = "hydra_plugins.dlbook_optuna.sweeper.DlbookOptunaSweeper"
    # The objective is each job's return value: `objective` (e.g. objective=val.loss), or the experiment's
    # reference metric. minimize (losses, errors) or maximize (accuracy).
    direction: str = "minimize"
    # Trials to run in this search (a continued study gets this many more).
    n_trials: int = 20
    # Trials asked from Optuna and launched together as one batch; the launcher runs a batch in parallel
    # (hydra.launcher.gpus / jobs_per_gpu / cpu_workers). More than 1 lets the sampler see fewer results.
    n_jobs: int = 1
    sampler: SamplerConf = field(default_factory=SamplerConf)
    pruner: PrunerConf = field(default_factory=PrunerConf)
    # The per-epoch Keras log value each job reports to its trial for pruning (val_loss, val_accuracy, ...).
    # It is compared in the study's `direction`: with minimize choose a value where lower is better (val_loss),
    # with maximize one where higher is better (val_accuracy). null: nothing reported, no pruning.
    monitor: str | None = "val_loss"
    # Where the study is kept (an SQLAlchemy URL; a relative SQLite path is taken from the folder dlbook was
    # started in). Jobs reach it to report and be pruned. null: in memory, no pruning, no continuation.
    storage: str | None = "sqlite:///${hydra.sweep.dir}/optuna.db"
    # The study's name within the storage.
    study_name: str = "${name}"
    # The search space, one key a line in Hydra's override grammar:
    #   choice(4,16,512)                 one of these values
    #   range(1,10) / range(0,1,0.25)    numbers from start up to (not including) stop, by step
    #   interval(0.0,0.5)                any float in [0.0, 0.5]; int(interval(1,100)) for integers
    #   tag(log, interval(1e-4,1e-2))    sampled on a log scale
    #   a plain value                    fixed for every trial
    # Sweeps given on the command line (model.units=4,16 after -m) are searched as choices too.
    params: dict[str, str] | None = None
    # A search must not select on the test set: when the objective or the monitor is computed on it (an
    # objective test.*, or val.* / val_* with task.validation.source=test), the search is refused before its
    # first trial. true: select on the test set anyway, knowingly (an illustration; its numbers are not results).
    allow_test_selection: bool = False


ConfigStore.instance().store(
    group="hydra/sweeper", name="dlbook_optuna", node=DlbookOptunaSweeperConf, provider="dlbook"
)
