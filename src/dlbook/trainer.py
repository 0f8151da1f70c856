"""How one experiment builds, fits and evaluates models (the ``trainer`` config group).

Tasks (hold-out, k-fold, ...) decide *what* to fit on which split; the Trainer knows *how*:
a fresh compiled model from ``cfg.model`` and ``cfg.optimizer``, ``model.fit`` on a tf.data
pipeline with the configured callbacks, and evaluation. It also collects the per-epoch history
of every fit for the run's history.csv.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dlbook.callbacks import build_callbacks, progress_bar
from dlbook.datasets.examples import DataSplits, Examples
from dlbook.datasets.pipeline import to_tf_dataset

log = logging.getLogger("dlbook")


@dataclass
class Trainer:
    cfg: DictConfig
    data: DataSplits
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    fits: int = 0

    @property
    def settings(self) -> DictConfig:
        return self.cfg.trainer

    def new_model(self):
        """A freshly initialised model, compiled with a fresh optimizer (the book's compile step)."""
        model = instantiate(self.cfg.model)(input_shape=self.data.input_shape)
        model.compile(
            optimizer=instantiate(self.cfg.optimizer),
            loss=self.settings.loss,
            metrics=OmegaConf.to_container(self.settings.metrics),
            steps_per_execution=self.settings.steps_per_execution,
        )
        return model

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
        train_data = pipeline(train, self.data, self.settings, batch_size, shuffle=True, seed=seed)
        validation_data = None
        if validation is not None:
            validation_data = pipeline(validation, self.data, self.settings, batch_size, shuffle=False)
        callbacks = build_callbacks(self.cfg.callbacks, phase)
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
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # the pipeline reshuffles every epoch itself
        ).history
        for epoch in range(len(history.get("loss", []))):
            row = {"phase": phase, "epoch": epoch + 1}
            row.update({key: float(values[epoch]) for key, values in history.items()})
            self.history_rows.append(row)
        last = {key: round(float(values[-1]), 4) for key, values in history.items() if values}
        log.info("%s: finished, last epoch %s", phase, last)
        return history

    def evaluate(self, model, examples: Examples) -> dict[str, float]:
        """Loss and metrics of ``model`` on ``examples`` (Keras' ``model.evaluate``)."""
        return evaluate_model(model, examples, self.data, self.settings)


def pipeline(examples: Examples, data: DataSplits, settings: DictConfig, batch_size: int, *, shuffle: bool, seed=None):
    """The tf.data pipeline over ``examples`` with the dataset's encoder and the trainer's step cap."""
    return to_tf_dataset(
        examples,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        encode=data.encode,
        input_shape=data.input_shape,
        max_steps=settings.max_steps,
    )


def evaluate_model(model, examples: Examples, data: DataSplits, settings: DictConfig, batch_size=None):
    """``model.evaluate`` over ``examples`` with the run's evaluation batch size and step cap."""
    dataset = pipeline(examples, data, settings, batch_size or settings.eval_batch_size, shuffle=False)
    results = model.evaluate(dataset, return_dict=True, verbose=0)
    return {key: float(value) for key, value in results.items()}
