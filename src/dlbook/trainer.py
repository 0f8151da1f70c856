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

from dlbook.callbacks import build_callbacks, epoch_timer, progress_bar
from dlbook.datasets.examples import DataSplits, Examples
from dlbook.datasets.pipeline import to_tf_dataset
from dlbook.phases import apply_trainable, phase_settings
from dlbook.pruning import pruning_callbacks
from dlbook.strategy import scope

log = logging.getLogger("dlbook")


@dataclass
class Trainer:
    cfg: DictConfig
    data: DataSplits
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    fits: int = 0
    # The run's tf.distribute strategy (dlbook.strategy); models and optimizers are made in its scope.
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
                model = load_run_model(self.settings.init_from)
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
        train_data = pipeline(
            train,
            self.data,
            self.settings,
            batch_size,
            shuffle=True,
            seed=seed,
            training=True,
            repeat=bool(steps_per_epoch),
        )
        validation_data = None
        if validation is not None:
            validation_data = pipeline(validation, self.data, self.settings, batch_size, shuffle=False)
        timer = epoch_timer()
        callbacks = [timer, *build_callbacks(self.cfg.callbacks, phase)]
        callbacks += pruning_callbacks(self.cfg, len(self.history_rows))  # steps go on over the run's fits
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
        history = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch or None,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # the pipeline reshuffles every epoch itself
        ).history
        for epoch in range(len(history.get("loss", []))):
            row = {"phase": phase, "epoch": epoch + 1}
            row.update({key: float(values[epoch]) for key, values in history.items()})
            row["seconds"] = round(timer.seconds[epoch], 4)
            self.history_rows.append(row)
        last = {key: round(float(values[-1]), 4) for key, values in history.items() if values}
        log.info("%s: finished, last epoch %s", phase, last)
        return history

    def evaluate(self, model, examples: Examples) -> dict[str, float]:
        """Loss and metrics of ``model`` on ``examples`` (Keras' ``model.evaluate``)."""
        return evaluate_model(model, examples, self.data, self.settings)


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
    """The tf.data pipeline over ``examples``: the dataset's own (images) or the array pipeline.

    ``training`` switches augmentation on; ``repeat`` loops the data (for ``trainer.steps_per_epoch``,
    as the book's endless generators did); the trainer's ``max_steps`` caps the batches.
    """
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


def load_run_model(run_dir: str):
    """The model.keras of a finished run (Keras safe mode), to continue training from it."""
    from pathlib import Path

    import keras

    from dlbook.errors import ConfigError

    model_file = Path(run_dir) / "model.keras"
    if not model_file.is_file():
        raise ConfigError(
            f"trainer.init_from={run_dir} is not valid: it has no model.keras. Give the directory of a "
            "completed run (dlbook train prints it at the end)."
        )
    return keras.saving.load_model(model_file, safe_mode=True)


def evaluate_model(model, examples: Examples, data: DataSplits, settings: DictConfig, batch_size=None):
    """``model.evaluate`` over ``examples`` with the run's evaluation batch size and step cap."""
    dataset = pipeline(examples, data, settings, batch_size or settings.eval_batch_size, shuffle=False)
    results = model.evaluate(dataset, return_dict=True, verbose=0)
    return {key: float(value) for key, value in results.items()}
