"""`dlbook train`: the Hydra task function that runs one experiment into its run directory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dlbook.config.checks import check_config
from dlbook.config.overrides import blame_overrides
from dlbook.config.reference import judge, lookup, not_comparable_reason
from dlbook.datasets.io.limits import example_limit, limited_to
from dlbook.errors import DlbookError, exit_for_user_error, find_user_error
from dlbook.results.plots import plot_curves
from dlbook.results.report import run_report
from dlbook.run.backend import adapt_to_backend, backend_description, check_backend_support, select_backend
from dlbook.run.directory import MODEL_FILE, RunDirectory, display_path
from dlbook.run.faults import explain_exhaustion, graceful_interrupts
from dlbook.run.loggers import check_loggers, end_loggers, finish_loggers, start_loggers
from dlbook.run.outcome import outcome
from dlbook.run.run_record import record_tags, rerun_provenance, run_tags

log = logging.getLogger("dlbook")


def train(cfg: DictConfig) -> float | None:
    """Load the dataset, run the task (fits and evaluations), write the run directory.

    With ``resume`` set and a run already in the directory, the run continues from its backups (every
    fit's last completed epoch). Returns the objective metric (``cfg.objective``, or the reference metric)
    for sweepers.
    """
    with graceful_interrupts():
        return _train(cfg)


def _train(cfg: DictConfig) -> float | None:
    run = RunDirectory(cfg.paths.run_dir)
    try:
        run.start(cfg.name, resume=bool(cfg.get("resume")))
    except DlbookError as error:
        exit_for_user_error(error)
        raise
    explainers = (
        lambda error: explain_exhaustion(error, str(run.path)),
        find_user_error,
        lambda error: blame_overrides(error, display_path(run.path)),  # a bad key=value Keras refused: name it
    )
    with outcome(cfg.name, run, explainers, on_error=end_loggers):
        check_config(cfg)
        check_loggers(cfg)
        record_tags(run.path, run_tags(cfg))
        strategy, backend_used = _set_up_backend(cfg, run)
        data = _load_data(cfg)
        from dlbook.run.trainer import Trainer

        trainer = Trainer(cfg, data, strategy=strategy)
        result = instantiate(cfg.task)(trainer)
        metrics = _save(cfg, run, result, data, trainer)
        objective = cfg.objective or (cfg.reference.metric if cfg.reference else None)
        value = lookup(metrics, objective) if objective else None  # before `completed`: a failure here fails the run
        run.complete(cfg.name, metrics)
        finish_loggers(cfg, run.path, metrics)  # TensorBoard HParams, MLflow; a failure there only logs a warning
    debug = OmegaConf.select(cfg, "trainer.max_steps") is not None
    backend_line = f"{backend_used['name']} {backend_used['version']} on {', '.join(backend_used['devices'])}"
    print(run_report(_title(cfg), metrics, display_path(cfg.paths.run_dir), debug, backend_line), flush=True)
    return value


def _set_up_backend(cfg: DictConfig, run: RunDirectory):
    """(strategy, backend description): the backend chosen and started, provenance written, loggers started."""
    backend = select_backend(cfg.backend)  # before anything imports Keras
    check_backend_support(cfg, backend)
    adapt_to_backend(cfg, backend)
    from dlbook.run.runtime import prepare_backend

    prepare_backend(cfg.seed, cfg.deterministic)  # the first import of Keras and TensorFlow (dlbook.run.quiet)
    from dlbook.run.strategy import describe_strategy, make_strategy

    strategy = make_strategy(cfg)  # one per run; Trainer builds every model in its scope
    backend_used = backend_description()
    run.write_provenance(
        {"experiment": cfg.name, "backend": backend_used, "strategy": describe_strategy(strategy)}
        | rerun_provenance()  # the plain command that repeats the run
    )
    start_loggers(cfg, run.path, backend_used)  # MLflow's run, when chosen
    return strategy, backend_used


def _load_data(cfg: DictConfig):
    """The dataset's splits (``cfg.dataset`` instantiated), within the debug limits."""
    with limited_to(example_limit(cfg.trainer)):  # debug=fast: the loader pre-computes only what it uses
        data = instantiate(cfg.dataset)
    log.info(
        "%s: data from %s; %d training and %d test examples",
        cfg.name,
        data.source,
        len(data.train),
        len(data.test),
    )
    return data


def _save(cfg: DictConfig, run: RunDirectory, result, data, trainer) -> dict:
    """Write model.keras, model.png, history.csv and curves.png; return the metrics with the reference verdict."""
    if result.model is not None:  # tasks that only produce images or text may have no model to keep
        save_model(result.model, run.file(MODEL_FILE))
        from dlbook.results.model_plot import plot_model_png

        log.info("model diagram: %s", plot_model_png(result.model, run.file("model.png")))
    metrics = {"data": data.source, **result.metrics}
    if data.info.get("target_std") and data.info.get("target_unit"):
        from dlbook.tasks.summaries import add_target_units

        absolute_errors = {"mae", "mean_absolute_error"}
        if cfg.trainer.loss in absolute_errors:
            absolute_errors.add("loss")
        add_target_units(metrics, data.info["target_std"], data.info["target_unit"], absolute_errors)
    reason = not_comparable_reason(data.differs_from_book, cfg.trainer, _task_overrides())
    metrics["reference"] = judge(metrics, OmegaConf.to_container(cfg.reference) if cfg.reference else None, reason)
    run.write_history(trainer.history_rows)
    plot_curves(trainer.history_rows, run.file("curves.png"), cfg.name)
    return metrics


def save_model(model, path: Path) -> None:
    """``model.save`` to a temporary file renamed into place: a run killed while saving never leaves half a model."""
    temporary = path.with_name(f".partial.{path.name}")  # Keras needs the .keras suffix
    model.save(temporary)
    os.replace(temporary, path)


def _task_overrides() -> list[str]:
    """The run's command-line overrides (Hydra's ``overrides.task``); none outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _title(cfg: DictConfig) -> str:
    book = cfg.get("book") or {}
    section = f" (book {book.get('section')}: {book.get('title')})" if book.get("section") else ""
    return f"{cfg.name}{section}"
