"""Model selection must not look at the test set: the check behind every hyperparameter search.

A search chooses trials by its objective (``objective``, or the experiment's reference metric) and prunes
them by a per-epoch ``monitor`` value. Both are computed on some split; when that split is the test set
(an objective ``test.*``, or ``val.*`` / ``val_*`` while ``task.validation.source=test`` makes the test
split the validation data, as book 4.4's illustration does), the chosen trial's test score is no longer
an estimate of how it does on unseen data. Such a search is refused before its first trial unless the
user says, with ``hydra.sweeper.allow_test_selection=true``, that selecting on the test set is intended.

This module imports no TensorFlow: the sweeper checks a search before any job starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from omegaconf import DictConfig, OmegaConf

OVERRIDE = "hydra.sweeper.allow_test_selection=true"


def objective_of(cfg: DictConfig) -> str | None:
    """The metric a search optimises: ``objective``, or else the experiment's reference metric."""
    return OmegaConf.select(cfg, "objective", default=None) or OmegaConf.select(cfg, "reference.metric", default=None)


def validation_sources(cfg: DictConfig, searched: Iterable[str] = ()) -> set[str]:
    """Where a run's validation data comes from: ``train`` or ``test`` (``task.validation.source``).

    ``searched``: the values a search gives ``task.validation.source`` in its trials (their override text).
    """
    sources = {str(OmegaConf.select(cfg, "task.validation.source", default=None) or "train")}
    sources.update(str(value).strip() for value in searched)
    return sources


def selection_on_test(cfg: DictConfig, monitor: str | None, searched_sources: Iterable[str] = ()) -> str | None:
    """One paragraph saying why a search on ``cfg`` would select on the test set, or None when it does not.

    ``monitor``: the per-epoch Keras log value reported for pruning (``val_loss``), or None.
    """
    sources = validation_sources(cfg, searched_sources)
    objective = objective_of(cfg)
    on_test = []
    if objective and str(objective).startswith("test."):
        on_test.append(f"objective={objective} is computed on the test split")
    validates_on_test = "test" in sources
    if validates_on_test and objective and str(objective).startswith("val."):
        on_test.append(f"objective={objective} is computed on the validation data")
    if validates_on_test and monitor and str(monitor).startswith("val_"):
        on_test.append(f"hydra.sweeper.monitor={monitor} (pruning) is computed on the validation data")
    if not on_test:
        return None
    because = " and ".join(on_test)
    if validates_on_test:
        because += ", which task.validation.source=test makes the test split"
    return (
        f"This search would select on the test set: {because}. The best trial, the pruning and "
        "optimization_results.yaml would be chosen on the test data, and the best trial's test score "
        "would no longer say how it does on unseen data. Validate on data held out of the training set instead "
        "(task.validation.source=train with task.validation.size=10000, or a fraction such as 0.2) and optimise "
        "a validation metric (objective=val.loss); the best trial's test score is then reported once, after "
        f"the search. To select on the test set knowingly (an illustration, not a result), set {OVERRIDE}."
    )
