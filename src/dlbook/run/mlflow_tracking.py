"""MLflow tracking (``logger=mlflow``): each run, and each sweep job, is one MLflow run.

What an MLflow run gets:

- params: the command-line overrides (``overrides.<key>``) and the composed config, flattened to dotted
  keys (``model.units``, ``optimizer.learning_rate``; ``hydra`` left out);
- tags: ``dlbook.experiment``, ``dlbook.book_section``, ``dlbook.sweep`` and ``dlbook.job`` (in a sweep),
  ``dlbook.backend``, ``dlbook.run_dir``, ``dlbook.command`` (the plain command that repeats it),
  ``dlbook.tags`` and one tag per user tag (``tags=[baseline]`` -> ``baseline: true``);
- per-epoch metrics with the epoch as their step, logged as each epoch ends (``loss``, ``val_loss``, ...;
  fits other than the main ``fit`` are prefixed: ``fold_1/loss``);
- the final metrics of metrics.json, flattened (``test.accuracy``, ``reference.reproduced``);
- artifacts: metrics.json, history.csv, curves.png, the model (model.keras) and the run's config.

The tracking URI defaults to a local store under the outputs folder (``<output_dir>/mlflow.db``, artifacts
in ``<output_dir>/mlartifacts``); ``logger.mlflow.tracking_uri=http://host:5000`` sends to a server.

Tracking never fails a training run: every MLflow call is guarded; the first failure is logged as a
warning and the run goes on without tracking. HTTP retries are kept short (MLflow's own default retries
for minutes), unless the MLFLOW_HTTP_REQUEST_* environment variables say otherwise.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("dlbook")

# MLflow's limits per log_batch call and on a param's value.
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
MAX_PARAM_VALUE = 6000
# Files of the run directory uploaded at the end, when present (the model as "model/model.keras").
ARTIFACTS = ("metrics.json", "history.csv", "curves.png", "status.json", "provenance.json", ".hydra/config.yaml")
# A failing server costs at most a few seconds, once: then tracking is off for the rest of the run.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}

INSTALL_HINT = (
    "logger=mlflow needs the mlflow package, which is not installed in this environment. Install dlbook's "
    "MLflow extra with `pip install 'dlbook[mlflow]'` (or `pip install mlflow`), or choose logger=tensorboard."
)


def mlflow_installed() -> bool:
    """True when the mlflow package can be imported here."""
    import importlib.util

    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        return False


def local_store(output_dir: str | Path) -> tuple[str, str]:
    """(tracking URI, artifact location) of the local store under ``output_dir``."""
    root = Path(output_dir).resolve()
    return f"sqlite:///{root / 'mlflow.db'}", (root / "mlartifacts").as_uri()


def flat_params(config: Any, prefix: str = "") -> dict[str, str]:
    """The composed config as ``{dotted.key: text}``; lists and empty dicts as their YAML-like text."""
    params: dict[str, str] = {}
    if isinstance(config, dict) and config:
        for key, value in config.items():
            params.update(flat_params(value, f"{prefix}{key}."))
        return params
    text = "null" if config is None else str(config)
    params[prefix.rstrip(".")] = text
    return params


def _param_key(key: str) -> str:
    # MLflow keys allow letters, digits, _ - . / space and colon; anything else (Hydra's @package) becomes _.
    return re.sub(r"[^\w\-./ :]", "_", key)[:250]


class MlflowRun:
    """One MLflow run, written through ``MlflowClient``; after a failure, every later call does nothing."""

    def __init__(self, settings: DictConfig, output_dir: str) -> None:
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        from mlflow.tracking import MlflowClient

        self.uri = settings.get("tracking_uri")
        self.artifact_location = None
        if not self.uri:
            self.uri, self.artifact_location = local_store(output_dir)
            Path(output_dir).mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.client = MlflowClient(tracking_uri=self.uri)
        self.run_id: str | None = None
        self.broken = False

    def _guard(self, what: str, action: Callable[[], Any]) -> Any:
        if self.broken:
            return None
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - tracking never fails the training run
            self.broken = True
            log.warning(
                "MLflow tracking at %s failed while %s (%s: %s); the run goes on without MLflow tracking, "
                "its results are in the run directory as always",
                self.uri,
                what,
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
            )
            return None

    def start(self, experiment: str, run_name: str, tags: dict[str, str], params: dict[str, str]) -> None:
        """Create the MLflow run (and its experiment on first use), with its tags and params."""
        self.run_id = self._guard("starting the run", lambda: self._create(experiment, run_name, tags))
        if self.run_id is None:
            self.broken = True
            return
        from mlflow.entities import Param

        items = [Param(_param_key(key), value[:MAX_PARAM_VALUE]) for key, value in params.items()]
        for first in range(0, len(items), PARAMS_PER_BATCH):
            chunk = items[first : first + PARAMS_PER_BATCH]
            self._guard("logging params", lambda chunk=chunk: self.client.log_batch(self.run_id, params=chunk))
        log.info("MLflow: run %s in experiment %r at %s", self.run_id, experiment, self.uri)

    def _create(self, experiment: str, run_name: str, tags: dict[str, str]) -> str:
        with _store_lock(self.uri):
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                location = f"{self.artifact_location}/{experiment}" if self.artifact_location else None
                experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            else:
                experiment_id = found.experiment_id
        return self.client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(_param_key(key), value, stamp, step) for key, value in values.items() if math.isfinite(value)]
        for first in range(0, len(metrics), METRICS_PER_BATCH):
            chunk = metrics[first : first + METRICS_PER_BATCH]
            self._guard("logging metrics", lambda chunk=chunk: self.client.log_batch(self.run_id, metrics=chunk))

    def log_artifacts(self, run_dir: Path) -> None:
        for name in ARTIFACTS:
            path = run_dir / name
            if path.is_file():
                self._guard(f"uploading {name}", lambda path=path: self.client.log_artifact(self.run_id, str(path)))
        model = run_dir / "model.keras"
        if self.settings.get("log_model", True) and model.is_file():
            self._guard("uploading the model", lambda: self.client.log_artifact(self.run_id, str(model), "model"))

    def end(self, status: str, tags: dict[str, str] | None = None) -> None:
        if tags:
            from mlflow.entities import RunTag

            marks = [RunTag(key, value) for key, value in tags.items()]
            self._guard("tagging the run", lambda: self.client.log_batch(self.run_id, tags=marks))
        self._guard("ending the run", lambda: self.client.set_terminated(self.run_id, status=status))


class _store_lock:
    """An exclusive lock beside a local SQLite store while jobs of one sweep create its tables and experiment."""

    def __init__(self, uri: str) -> None:
        self.path = Path(uri[len("sqlite:///") :] + ".lock") if uri.startswith("sqlite:///") else None
        self.file = None

    def __enter__(self):
        if self.path is not None:
            import fcntl

            self.file = open(self.path, "a")  # noqa: SIM115 - held until __exit__
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()  # closing releases the lock


def run_tags(cfg: DictConfig, run_dir: Path, backend: dict[str, Any] | None, user_tags: list[str]) -> dict[str, str]:
    """The MLflow tags of a run (see the module docstring)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from dlbook.run.run_record import job_rerun_command

    book = cfg.get("book") or {}
    tags = {"dlbook.experiment": str(cfg.name), "dlbook.run_dir": str(run_dir.resolve())}
    if book.get("section"):
        tags["dlbook.book_section"] = str(book.get("section"))
    if backend:
        devices = ", ".join(str(device) for device in backend.get("devices") or [])
        where = f" on {devices}" if devices else ""
        tags["dlbook.backend"] = f"{backend.get('name')} {backend.get('version')}{where}"
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        tags["dlbook.sweep"] = str(Path(HydraConfig.get().sweep.dir).resolve())
        tags["dlbook.job"] = str(HydraConfig.get().job.num)
    command = job_rerun_command()
    if command:
        tags["dlbook.command"] = command
    if user_tags:
        tags["dlbook.tags"] = ",".join(user_tags)
        tags.update({tag: "true" for tag in user_tags})
    return tags


def run_params(cfg: DictConfig, overrides: list[str]) -> dict[str, str]:
    """The overrides (``overrides.<key>``) and the composed config (resolved, ``hydra`` left out) as params."""
    from dlbook.results.hparams import parse_overrides

    params = {f"overrides.{key}": str(value) for key, value in parse_overrides(overrides).items()}
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    config.pop("hydra", None)
    params.update(flat_params(config))
    return params


def epoch_callback(tracker: MlflowRun, phase: str):
    """A Keras callback that logs each epoch's metrics with the epoch (1, 2, ...) as their step."""
    import keras

    prefix = "" if phase == "fit" else f"{phase}/"

    class MlflowEpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            values = {}
            for key, value in (logs or {}).items():
                try:
                    values[f"{prefix}{key}"] = float(value)
                except (TypeError, ValueError):
                    continue
            tracker.log_metrics(values, step=epoch + 1)

    return MlflowEpochLogger()
