"""TensorBoard HParams for every completed run: its overrides as hyperparameters, its final metrics as scalars.

After a run completes, ``<run dir>/tensorboard/`` (the root, beside the per-fit folders that
keras.callbacks.TensorBoard writes) gets one HParams session:

- the trial's name: the job number and its overrides (``#3 model.units=32 seed=1 · <sweep folder>``),
  see :func:`trial_id`;
- hyperparameters: the job's command-line overrides (``model.units=32``, ``optimizer=adam``, ...;
  ``hydra.*`` left out), plus ``experiment`` (the run's name), ``seed``, ``tags`` (comma-joined) and
  ``verdict`` (reproduced / not reproduced / not comparable / no reference: the book comparison as a column);
- metrics: every number of metrics.json, flattened (``test.accuracy``, ``val.loss``, ``kfold.val_mae_mean``,
  ``reference.reproduced`` as 1/0; a "not comparable" verdict is text and left out, ``reference.in_band``
  still says where the number fell), as scalars tagged ``final/<key>`` in the same folder.

``tensorboard --logdir outputs/multirun/<name>/<timestamp>`` then shows a sweep in the HParams tab as a
table and as parallel coordinates, one row per job.

No experiment summary (``hp.hparams_config``) is written on purpose: without one, TensorBoard infers the
columns from all the sessions under its logdir (hyperparameters of every run, metrics from every scalar
tag), so ``--logdir outputs`` with runs of different experiments shows all of them, where one run's
experiment summary would hide the other runs' columns.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from dlbook.frameworks import tensorflow_available

log = logging.getLogger("dlbook")

TENSORBOARD_DIR = "tensorboard"
# Prefix of the final-metric scalars: they sort together, apart from Keras' per-epoch epoch_* tags.
FINAL_PREFIX = "final/"


def write_run_hparams(cfg: DictConfig, run_dir: str | Path, metrics: dict[str, Any]) -> Path | None:
    """Write the HParams session and final metrics of a completed run into ``<run_dir>/tensorboard``.

    Returns the folder written to, or None when writing failed: a completed run stays completed, the
    failure is logged as a warning.
    """
    try:
        return _write(cfg, Path(run_dir), metrics)
    except Exception as error:  # HParams are a view of a finished run, never a reason to fail it
        log.warning("TensorBoard HParams were not written for %s: %s: %s", run_dir, type(error).__name__, error)
        return None


def run_hyperparameters(cfg: DictConfig, overrides: list[str]) -> dict[str, bool | int | float | str]:
    """The run's hyperparameters: its ``overrides`` (key=value, hydra.* left out), ``experiment`` and ``seed``."""
    hyperparameters = parse_overrides(overrides)
    hyperparameters["experiment"] = str(cfg.name)
    hyperparameters["seed"] = int(cfg.seed)
    if cfg.get("tags"):
        hyperparameters["tags"] = ",".join(str(tag) for tag in cfg.tags)
    return hyperparameters


def parse_overrides(overrides: list[str]) -> dict[str, bool | int | float | str]:
    """``key=value`` overrides (Hydra's syntax) as HParams values: numbers and booleans stay, the rest is text.

    Hydra's own keys (``hydra.*``, ``hydra/launcher=...``) say how a run is launched, not what it trains,
    and deletions (``~key``) have no value: both are left out.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    hyperparameters: dict[str, bool | int | float | str] = {}
    for override in parsed:
        key = override.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")) or override.is_delete():
            continue
        if override.package:
            key = f"{key}@{override.package}"
        value = override.value()
        if isinstance(value, (bool, int, float, str)):
            hyperparameters[key] = value
        else:
            # HParams hold only numbers, booleans and strings: lists, dicts and null as Hydra wrote them.
            hyperparameters[key] = override.get_value_element_as_str()
    return hyperparameters


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number of ``metrics`` (nested dicts) under a dotted key; booleans as 1.0/0.0, lists and text skipped."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, (bool, int, float)):
            flat[name] = float(value)
    return flat


def trial_id(cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None) -> str:
    """The trial's name in the HParams table: what a user tells the runs apart by, first.

    A sweep's job: its number and its overrides, then the sweep's folder name (``#3 model.units=32
    seed=1 · 2026-11-26_16-02-11_123456``); a single run: its overrides (or its experiment's name), then
    its folder name. TensorBoard merges sessions that share a trial id into one row, so the folder name
    keeps two sweeps (or runs) with the same overrides apart under one ``--logdir``; the part the table's
    column shows before cutting the name off is the one that differs between jobs.
    """
    overrides = _job_overrides() if overrides is None else overrides
    shown = " ".join(f"{key}={_text(value)}" for key, value in parse_overrides(overrides).items())
    job = _job_number()
    if job is not None:
        return f"#{job} {shown}".rstrip() + f" · {run_dir.resolve().parent.name}"
    return f"{shown or cfg.name} · {run_dir.resolve().name}"


def verdict_text(metrics: dict[str, Any]) -> str:
    """The run's verdict against the book in words (an HParams column): reproduced, not reproduced, not
    comparable, or no reference."""
    reproduced = (metrics.get("reference") or {}).get("reproduced")
    if reproduced is True:
        return "reproduced"
    if reproduced is False:
        return "not reproduced"
    if isinstance(reproduced, str):
        return reproduced  # "not comparable" (a debug run, other data)
    return "no reference"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _job_number() -> int | None:
    """The job's number within its sweep, or None for a single run (or outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return int(hydra_cfg.job.num)


def _job_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def _start_time(run_dir: Path) -> float | None:
    """The run's start (status.json), so TensorBoard shows when the run began rather than when it ended."""
    from dlbook.run.directory import STATUS_FILE, read_json

    try:
        return datetime.fromisoformat(read_json(run_dir / STATUS_FILE)["started"]).timestamp()
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _session_end():
    """The HParams plugin's "session ended: success" summary, built without TensorFlow."""
    import time

    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info)),
        tensor=metadata.NULL_TENSOR,
    )
    return summary


def _write(cfg: DictConfig, run_dir: Path, metrics: dict[str, Any]) -> Path:
    log_dir = run_dir / TENSORBOARD_DIR
    overrides = _job_overrides()
    hyperparameters = run_hyperparameters(cfg, overrides)
    # The verdict as text: a column of the table, beside the final metrics (a "not comparable" has no number).
    hyperparameters["verdict"] = verdict_text(metrics)
    # A diverged run's NaN would leave a column's range (parallel coordinates) undefined: left out.
    scalars = {key: value for key, value in flat_metrics(metrics).items() if math.isfinite(value)}
    end = _session_end()  # so the HParams table shows the run as a success
    if not tensorflow_available():
        _write_events(log_dir, hyperparameters, trial_id(cfg, run_dir, overrides), _start_time(run_dir), scalars, end)
    else:
        _write_with_tensorflow(log_dir, hyperparameters, trial_id(cfg, run_dir, overrides), run_dir, scalars, end)
    log.info(
        "TensorBoard HParams: %d hyperparameters, %d final metrics in %s", len(hyperparameters), len(scalars), log_dir
    )
    return log_dir


def _write_events(log_dir: Path, hyperparameters, trial, start_time, scalars: dict[str, float], end) -> None:
    """The same session written with the tensorboard package alone (no TensorFlow installed)."""
    import time

    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.plugins.scalar import summary_v2 as scalar_summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(log_dir))
    try:
        summaries = [summary_v2.hparams_pb(hyperparameters, trial_id=trial, start_time_secs=start_time)]
        summaries += [scalar_summary.scalar_pb(f"{FINAL_PREFIX}{key}", value) for key, value in scalars.items()]
        summaries.append(end)
        for summary in summaries:
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=0, summary=summary))
        writer.flush()
    finally:
        writer.close()


def _write_with_tensorflow(log_dir: Path, hyperparameters, trial, run_dir: Path, scalars: dict[str, float], end):
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(log_dir))
    try:
        with writer.as_default():
            hp.hparams(hyperparameters, trial_id=trial, start_time_secs=_start_time(run_dir))
            for key, value in scalars.items():
                tf.summary.scalar(f"{FINAL_PREFIX}{key}", value, step=0)
            tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=0)
        writer.flush()
    finally:
        writer.close()
