"""A weighted average of finished runs' predictions (book 7.3.3), scored on their test split; `dlbook ensemble`.

The book averages the predictions of differently built models on the same data, e.g.
``0.5 * preds_a + 0.25 * preds_b + 0.1 * preds_c + 0.15 * preds_d``. Here each member is a completed
run: its model.keras (Keras safe mode) and its config. The runs must share one dataset config and
one output shape; the test split is built once from the first run's config, every member predicts
it batch by batch, and the loss and metrics of each member and of the average are computed the
same way (the run's trainer.loss and trainer.metrics, as Keras' compile resolves them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from dlbook.errors import ConfigError
from dlbook.results.report import table

log = logging.getLogger("dlbook")
# Where the same data may be cached differently without changing the examples.
IGNORED_DATASET_KEYS = ("cache_dir",)


def check_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """The members' weights normalized to sum 1 (equal weights for None); ConfigError when invalid."""
    if weights is None:
        return [1.0 / count] * count
    if OmegaConf.is_config(weights):
        weights = OmegaConf.to_container(weights)
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence):
        raise ConfigError(f"weights={weights!r} is not valid: a list of {count} numbers (one per run) or null")
    if len(weights) != count:
        raise ConfigError(
            f"weights={list(weights)} is not valid: {len(weights)} weights for {count} runs; give one per run "
            "(in the order of `runs`) or null for equal weights."
        )
    values = []
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight) or weight < 0:
            raise ConfigError(f"weights={list(weights)} is not valid: every weight must be a number >= 0")
        values.append(float(weight))
    total = sum(values)
    if total <= 0:
        raise ConfigError(f"weights={list(weights)} is not valid: at least one weight must be above 0")
    return [value / total for value in values]


def _flatten(block: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(block, Mapping):
        flat: dict[str, Any] = {}
        for key, value in block.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat if flat or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: block}


def _dataset_block(run_cfg: DictConfig) -> dict[str, Any]:
    try:
        return OmegaConf.to_container(run_cfg.dataset, resolve=True)
    except Exception:  # an interpolation that needs Hydra's runtime: compare the text as written
        return OmegaConf.to_container(run_cfg.dataset, resolve=False)


def dataset_difference(first: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[str, Any, Any] | None:
    """The first dataset key (dotted) whose values differ, with both values; None when they agree.

    Missing keys count as differences (their value shows as ``<missing>``); ``cache_dir`` is ignored.
    """
    missing = "<missing>"
    flat_first, flat_other = _flatten(first), _flatten(other)
    keys = list(flat_first) + [key for key in flat_other if key not in flat_first]
    for key in keys:
        if key.split(".")[-1] in IGNORED_DATASET_KEYS:
            continue
        first_value, other_value = flat_first.get(key, missing), flat_other.get(key, missing)
        if first_value != other_value:
            return key, first_value, other_value
    return None


def check_same_dataset(configs: Mapping[str, DictConfig]) -> None:
    """ConfigError naming the first differing dataset key when the runs were trained on different data."""
    runs = list(configs)
    reference = _dataset_block(configs[runs[0]])
    for run in runs[1:]:
        difference = dataset_difference(reference, _dataset_block(configs[run]))
        if difference:
            key, first_value, other_value = difference
            raise ConfigError(
                f"runs={runs} cannot be ensembled: their datasets differ at dataset.{key}: {first_value!r} in "
                f"{runs[0]} but {other_value!r} in {run}. An ensemble averages predictions on one test split; "
                "give runs trained on the same dataset config."
            )


def check_same_outputs(models: Mapping[str, Any]) -> tuple:
    """The members' common output shape; ConfigError naming both when two differ (or several outputs)."""
    runs = list(models)
    shapes = {}
    for run, model in models.items():
        if len(model.outputs) != 1:
            raise ConfigError(
                f"run={run} cannot be ensembled: its model has {len(model.outputs)} outputs; dlbook ensembles "
                "average models with one output."
            )
        shapes[run] = tuple(model.output_shape)
    for run in runs[1:]:
        if shapes[run] != shapes[runs[0]]:
            raise ConfigError(
                f"runs cannot be ensembled: the model of {runs[0]} outputs shape {shapes[runs[0]]} but the model "
                f"of {run} outputs {shapes[run]}; averaged predictions need the same output shape."
            )
    return shapes[runs[0]]


def predict_all(models: Sequence[Any], dataset) -> tuple[list[np.ndarray], np.ndarray]:
    """Every member's predictions on ``dataset`` (batches of inputs and targets), and the targets.

    One pass over the data with all members per batch, so that predictions and targets line up
    whatever the pipeline does.
    """
    predictions: list[list[np.ndarray]] = [[] for _ in models]
    targets = []
    for batch in dataset:
        inputs, batch_targets = batch[0], batch[1]
        for index, model in enumerate(models):
            predictions[index].append(np.asarray(model.predict_on_batch(inputs)))
        targets.append(np.asarray(batch_targets))
    if not targets:
        raise ConfigError("the test split is empty: there is nothing to ensemble on")
    return [np.concatenate(parts) for parts in predictions], np.concatenate(targets)


def weighted_average(predictions: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``sum(weight * prediction)`` (the weights already sum to 1)."""
    return sum(weight * prediction for weight, prediction in zip(weights, predictions, strict=True))


def score(predictions: np.ndarray, targets: np.ndarray, loss: Any, metrics: Any, batch_size: int = 512) -> dict:
    """Loss and metrics of ``predictions`` against ``targets``, resolved as ``model.compile`` resolves them.

    An identity model compiled with the run's loss and metrics evaluates the predictions, so that
    "accuracy" means binary, categorical or sparse categorical accuracy exactly as in training.
    (A member's loss here leaves out weight-regularization penalties, which only training adds.)
    """
    import keras

    identity = keras.Sequential([keras.Input(shape=predictions.shape[1:]), keras.layers.Identity()])
    identity.compile(loss=loss, metrics=metrics)
    results = identity.evaluate(predictions, targets, batch_size=batch_size, return_dict=True, verbose=0)
    return {key: float(value) for key, value in results.items()}


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def run_ensemble(
    runs: Sequence[str],
    weights: Sequence[float] | None = None,
    batch_size: int | None = None,
    unsafe_load: bool = False,
) -> dict:
    """Load the runs, check they fit together, and score each member and their weighted average.

    Returns ``{"runs": [...], "weights": [...], "data": ..., "members": {run: metrics}, "ensemble": metrics}``.
    """
    from hydra.utils import instantiate

    from dlbook.run.saved import load_run_config

    if OmegaConf.is_config(runs):
        runs = OmegaConf.to_container(runs)
    if isinstance(runs, str) or not isinstance(runs, Sequence) or len(runs) < 2:
        raise ConfigError(
            f"runs={runs!r} is not valid: give a list of at least two completed run directories, "
            "e.g. runs=[outputs/imdb/<timestamp>,outputs/imdb_lstm/<timestamp>]."
        )
    runs = [str(run) for run in runs]
    normalized = check_weights(weights, len(runs))
    configs = {run: load_run_config(Path(run)) for run in runs}
    check_same_dataset(configs)

    first = configs[runs[0]]
    from dlbook.run.backend import select_backend

    select_backend(first.get("backend", "tensorflow"))  # the first run's backend, before Keras is imported
    from dlbook.run.runtime import prepare_backend
    from dlbook.run.trainer import load_run_model, pipeline

    prepare_backend(first.seed, first.deterministic)
    models = {
        run: load_run_model(run, unsafe_load=unsafe_load, run_key="runs", unsafe_key="unsafe_load") for run in runs
    }
    check_same_outputs(models)
    data = instantiate(first.dataset)
    size = batch_size or first.trainer.eval_batch_size
    dataset = pipeline(data.test, data, first.trainer, size, shuffle=False)
    log.info("ensemble: %d runs on %d test examples (%s)", len(runs), len(data.test), data.source)
    predictions, targets = predict_all(list(models.values()), dataset)
    # Each member is scored with its own run's loss and metrics; the ensemble with the first run's.
    members = {
        run: score(prediction, targets, _plain(configs[run].trainer.loss), _plain(configs[run].trainer.metrics), size)
        for run, prediction in zip(runs, predictions, strict=True)
    }
    averaged = weighted_average(predictions, normalized)
    ensemble_metrics = score(averaged, targets, _plain(first.trainer.loss), _plain(first.trainer.metrics), size)
    return {
        "runs": runs,
        "weights": normalized,
        "data": data.source,
        "members": members,
        "ensemble": ensemble_metrics,
    }


def ensemble_table(result: Mapping[str, Any]) -> str:
    """Rows: metric; one column per member (numbered, with its weight) and one for the ensemble."""
    runs = result["runs"]
    names = [
        f"{index + 1}: {Path(run).parent.name}/{Path(run).name} (w={weight:.2f})"
        for index, (run, weight) in enumerate(zip(runs, result["weights"], strict=True))
    ]
    metrics = list(result["ensemble"])
    rows = []
    for metric in metrics:
        row = [metric]
        for run in runs:
            value = result["members"][run].get(metric)
            row.append("-" if value is None else f"{value:.4f}")
        row.append(f"{result['ensemble'][metric]:.4f}")
        rows.append(row)
    return table(rows, ["metric", *names, "ensemble"])
