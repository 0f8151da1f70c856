"""Tasks: how an experiment runs (hold-out fit, k-fold, retrain-then-test ...).

A task is a function ``run(trainer, **settings) -> TaskResult`` chosen by ``cfg.task._target_``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskResult:
    """The model to save as model.keras (None: nothing to keep) and the metrics for metrics.json."""

    model: Any
    metrics: dict[str, Any] = field(default_factory=dict)
