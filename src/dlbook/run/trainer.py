"""How one experiment builds, fits and evaluates models (the ``trainer`` config group).

Tasks (hold-out, k-fold, ...) decide *what* to fit on which split; the Trainer knows *how*:
a fresh compiled model from ``cfg.model`` and ``cfg.optimizer``, ``model.fit`` on a tf.data
pipeline with the configured callbacks, and evaluation. It also collects the per-epoch history
of every fit for the run's history.csv.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.datasets.io.pipeline import to_tf_dataset
from dlbook.frameworks import tensorflow_available
from dlbook.run.backup import FitBackup, backup_callbacks
from dlbook.run.callbacks import build_callbacks, epoch_timer, progress_bar
from dlbook.run.faults import nan_guard
from dlbook.run.kernels import log_kernels
from dlbook.run.loggers import logger_callbacks
from dlbook.run.phases import apply_trainable, phase_settings
from dlbook.run.pruning import pruning_callbacks
from dlbook.run.strategy import scope
from dlbook.run.training_stream import TrainingStream

log = logging.getLogger("dlbook")


@dataclass
class Trainer:
    cfg: DictConfig
    data: DataSplits
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    fits: int = 0
    # The run's tf.distribute strategy (dlbook.run.strategy); models and optimizers are made in its scope.
    strategy: Any = None

    @property
    def settings(self) -> DictConfig:
        return self.cfg.trainer

    def new_model(self):
        """A freshly initialised model (or ``trainer.init_from``'s saved one), compiled with a fresh optimizer."""
        _set_precision(self.settings.get("mixed_precision"))
        # Keras records the strategy a model (and an optimizer) is created under, and distributes its fit.
        with scope(self.strategy):
            if self.settings.init_from:
                model = load_run_model(self.settings.init_from, unsafe_load=self.settings.get("unsafe_load", False))
            else:
                builder = instantiate(self.cfg.model)
                arguments = {"input_shape": self.data.input_shape}
                if "data" in inspect.signature(builder).parameters:
                    arguments["data"] = self.data  # builders whose layers need the dataset (a vocabulary)
                model = builder(**arguments)
            self.compile(model)
        return model

    def compile(self, model, optimizer_overrides: dict[str, Any] | None = None) -> None:
        """The book's ``model.compile``: optimizer from ``cfg.optimizer`` (with overrides), loss, metrics."""
        optimizer_cfg = OmegaConf.merge(self.cfg.optimizer, optimizer_overrides or {})
        loss_weights = self.settings.get("loss_weights")
        with scope(self.strategy):  # also for the fresh optimizer of each phase
            model.compile(
                optimizer=instantiate(optimizer_cfg),
                # A name, or per-output names / metric lists for models with several outputs (book 7.1.3).
                loss=_plain(self.settings.loss),
                loss_weights=_plain(loss_weights),
                metrics=_plain(self.settings.metrics),
                steps_per_execution=self.settings.steps_per_execution,
                jit_compile=self.settings.get("jit_compile", "auto"),
            )

    def fit_phases(self, model, train: Examples, validation: Examples | None, *, batch_size: int):
        """Fit for ``trainer.epochs``, or through ``trainer.phases`` one after another (weights carry over).

        Returns the history of all phases joined, epochs numbered on (phase 2 starts after phase 1).
        """
        phases = self.settings.get("phases") or []
        if not phases:
            return self.fit(model, "fit", train, validation, epochs=self.settings.epochs, batch_size=batch_size)
        joined: dict[str, list[float]] = {}
        for index, phase in enumerate(phases):
            settings = phase_settings(phase, index)
            apply_trainable(model, settings["trainable"], settings["name"])
            # Trainability changes take effect at compile time; the optimizer starts afresh per phase.
            self.compile(model, settings["optimizer"])
            trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
            log.info("%s: %d trainable parameters", settings["name"], trainable)
            history = self.fit(
                model, settings["name"], train, validation, epochs=settings["epochs"], batch_size=batch_size
            )
            for key, values in history.items():
                joined.setdefault(key, []).extend(values)
        return joined

    def _epochs(self, epochs: int) -> int:
        cap = self.settings.max_epochs
        return epochs if cap is None else min(epochs, cap)

    def fit(
        self,
        model,
        phase: str,
        train: Examples,
        validation: Examples | None,
        *,
        epochs: int,
        batch_size: int,
    ) -> dict[str, list[float]]:
        """Fit ``model`` on ``train`` (watching ``validation`` each epoch); returns Keras' history dict."""
        epochs = self._epochs(epochs)
        self.fits += 1
        # A different, reproducible shuffling order for every fit of the run.
        seed = int(self.cfg.seed) * 1000 + self.fits
        steps_per_epoch = self.settings.get("steps_per_epoch")
        if steps_per_epoch and self.settings.max_steps:
            steps_per_epoch = min(steps_per_epoch, self.settings.max_steps)
        stream = TrainingStream(train, self.data, self.settings, batch_size, seed, steps_per_epoch)
        validation_data = None
        if validation is not None:
            validation_data = pipeline(validation, self.data, self.settings, batch_size, shuffle=False)
        timer = epoch_timer()
        backup = self._backup(phase)
        commit, done, resumed_rows = None, 0, []
        fault_callbacks = [nan_guard(phase), stream.callback()]
        if backup is not None and not model.built:
            log.info("%s: the model is not built before fit, so this fit keeps no backup for resuming", phase)
            backup = None
        if backup is not None:
            commit = backup.latest()
            if commit is not None:
                done = min(commit.epoch, epochs)
                resumed_rows = [row for row in commit.journal if row["epoch"] < done]
                log.info("%s: resuming after epoch %d of %d (backup %s)", phase, done, epochs, commit.path)
            backup_first, backup_last = backup_callbacks(backup, commit, timer, stream, resumed_rows, epochs)
            fault_callbacks.append(backup_first)
        train_data = stream.dataset(done, phase)
        callbacks = [timer, *fault_callbacks, *build_callbacks(self.cfg.callbacks, phase)]
        callbacks += pruning_callbacks(self.cfg, len(self.history_rows))  # steps go on over the run's fits
        callbacks += logger_callbacks(phase)  # MLflow's per-epoch metrics, when chosen
        if backup is not None:
            callbacks.append(backup_last)
        for callback in callbacks:
            # Callbacks that look at validation data (the book's ActivationLogger) get this fit's pipeline;
            # those that label things with the dataset's vocabulary (the embedding projector) get the data.
            if validation_data is not None and hasattr(callback, "set_validation_data"):
                callback.set_validation_data(validation_data)
            if hasattr(callback, "set_data"):
                callback.set_data(self.data)
        if self.settings.progress != "none":
            callbacks.append(progress_bar(self.settings.progress, phase, epochs))
        log.info(
            "%s: %d epochs x batch %d on %d examples%s",
            phase,
            epochs,
            batch_size,
            len(train),
            f", validating on {len(validation)}" if validation is not None else "",
        )
        log_kernels(model, phase)
        history = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=epochs,
            initial_epoch=done,
            steps_per_epoch=stream.steps_per_epoch,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # the pipeline reshuffles every epoch itself
        ).history
        history = _with_resumed_epochs(history, resumed_rows)
        seconds = [row["seconds"] for row in resumed_rows] + timer.seconds
        for epoch in range(len(history.get("loss", []))):
            row = {"phase": phase, "epoch": epoch + 1}
            row.update({key: float(values[epoch]) for key, values in history.items()})
            row["seconds"] = round(seconds[epoch], 4) if seconds[epoch] is not None else None
            self.history_rows.append(row)
        last = {key: round(float(values[-1]), 4) for key, values in history.items() if values}
        log.info("%s: finished, last epoch %s", phase, last)
        return history

    def _backup(self, phase: str) -> FitBackup | None:
        """This fit's backup folder in the run directory (None outside a run, e.g. a Trainer in a notebook)."""
        try:
            run_dir = OmegaConf.select(self.cfg, "paths.run_dir", default=None)
        except Exception:  # noqa: BLE001 - ${hydra:...} cannot resolve outside a Hydra job
            return None
        return FitBackup(run_dir, self.fits, phase) if run_dir else None

    def evaluate(self, model, examples: Examples) -> dict[str, float]:
        """Loss and metrics of ``model`` on ``examples`` (Keras' ``model.evaluate``)."""
        return evaluate_model(model, examples, self.data, self.settings)


def _with_resumed_epochs(history: dict[str, list[float]], earlier: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Keras' history of a resumed fit (its later epochs), with the epochs before it from the journal first."""
    if not earlier:
        return history
    keys = list(history) or list(earlier[0]["logs"])
    return {key: [row["logs"].get(key, float("nan")) for row in earlier] + list(history.get(key, [])) for key in keys}


PRECISION_POLICIES = (None, "mixed_float16", "mixed_bfloat16")


def _set_precision(policy: str | None) -> None:
    """Keras' global dtype policy for the models built next: float32 (null) or a mixed-precision policy."""
    import keras

    if policy not in PRECISION_POLICIES:
        from dlbook.errors import ConfigError

        raise ConfigError(
            f"trainer.mixed_precision={policy} is not valid: null (float32), mixed_float16 (GPUs) or "
            "mixed_bfloat16 (CPUs and TPUs with bfloat16 support)."
        )
    keras.mixed_precision.set_global_policy(policy or "float32")


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def pipeline(
    examples: Examples,
    data: DataSplits,
    settings: DictConfig,
    batch_size: int,
    *,
    shuffle: bool,
    seed=None,
    training: bool = False,
    repeat: bool = False,
):
    """The tf.data pipeline over ``examples``: the dataset's own (images) or the array pipeline; without
    TensorFlow, NumPy batches of the arrays or of Jena's windows (``dlbook.datasets.io.array_batches``).

    ``training`` switches augmentation on; ``repeat`` loops the data (for ``trainer.steps_per_epoch``,
    as the book's endless generators did); the trainer's ``max_steps`` caps the batches.
    """
    if not tensorflow_available():
        from dlbook.datasets.io.array_batches import numpy_batches

        return numpy_batches(
            examples, data, batch_size, seed=seed if shuffle else None, max_batches=settings.max_steps, endless=repeat
        )
    if data.make_pipeline is not None:
        dataset = data.make_pipeline(examples, batch_size, shuffle=shuffle, seed=seed, training=training)
    else:
        dataset = to_tf_dataset(
            examples, batch_size, shuffle=shuffle, seed=seed, encode=data.encode, input_shape=data.input_shape
        )
    if repeat:
        dataset = dataset.repeat()
    if settings.max_steps is not None and not repeat:
        dataset = dataset.take(settings.max_steps)
    return dataset


def load_run_model(
    run_dir: str,
    *,
    unsafe_load: bool = False,
    run_key: str = "trainer.init_from",
    unsafe_key: str = "trainer.unsafe_load",
):
    """The model.keras of a finished run, loaded in Keras safe mode unless ``unsafe_load`` is true.

    Safe mode refuses a model whose config holds Python code (a Lambda layer of a lambda), since
    loading it runs that code: such a file is refused with a DlbookError naming it and ``unsafe_key``,
    the setting that loads it anyway (``trainer.unsafe_load`` for ``trainer.init_from``, ``unsafe_load``
    for evaluate, ensemble, generate and visualize). ``run_key`` names the setting that gave ``run_dir``.
    dlbook's own layers and models are registered Keras classes, which safe mode loads.
    """
    import re
    from pathlib import Path

    import keras

    from dlbook.errors import ConfigError, DlbookError
    from dlbook.models import register_serializable

    if not isinstance(unsafe_load, bool):
        raise ConfigError(
            f"{unsafe_key}={unsafe_load!r} is not valid: false (Keras safe mode), or true to load a model "
            "holding Python code (a Lambda layer) from a source you trust."
        )
    model_file = Path(run_dir) / "model.keras"
    if not model_file.is_file():
        raise ConfigError(
            f"{run_key}={run_dir} is not valid: it has no model.keras. Give the directory of a "
            "completed run (dlbook train prints it at the end)."
        )
    register_serializable()
    if unsafe_load:
        log.warning("loading %s with Keras safe mode off (%s=true): its Python code runs", model_file, unsafe_key)
        return keras.saving.load_model(model_file, safe_mode=False)
    try:
        return keras.saving.load_model(model_file, safe_mode=True)
    except (TypeError, ValueError) as error:
        if "safe_mode" not in str(error):
            raise
        found = re.search(r"Requested the deserialization of [^.]*\.", str(error))
        reason = found.group(0) if found else str(error).splitlines()[0]
        raise DlbookError(
            f"{model_file} was not loaded: it holds Python code, which Keras' safe mode refuses to run ({reason}) "
            "Loading it would run that code, as a tampered model file would. If you trust where the file comes "
            f"from (a run of your own with a Lambda layer, say), load it anyway with {unsafe_key}=true; dlbook's "
            "own models never need that (their layers are registered Keras classes, which safe mode loads)."
        ) from error


def evaluate_model(model, examples: Examples, data: DataSplits, settings: DictConfig, batch_size=None):
    """``model.evaluate`` over ``examples`` with the run's evaluation batch size and step cap."""
    dataset = pipeline(examples, data, settings, batch_size or settings.eval_batch_size, shuffle=False)
    results = model.evaluate(dataset, return_dict=True, verbose=0)
    return {key: float(value) for key, value in results.items()}
