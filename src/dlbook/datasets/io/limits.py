"""The debug limits of a run (``debug=fast``: ``trainer.max_steps`` batches) applied to a dataset's own work.

A smoke run fits and evaluates a few batches, but a loader that decodes, checks or featurises every image
of a split before the first batch would still take minutes (VGG16 features of 4,000 images: about four
on two cores). While a run loads its dataset, :func:`limited_to` holds how many examples per split its
batches can use (``trainer.max_steps * trainer.batch_size``), and loaders that pre-compute per example
(image listing and checking, feature extraction) take only that many with :func:`limit_examples`. Outside
a debug run there is no limit. A context variable, not a config key, because the limit is a property of
the run (the trainer's settings), not of any one dataset config, and nested loaders (features of an
image dataset) must see the same limit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger("dlbook")

_LIMIT: ContextVar[int | None] = ContextVar("dlbook_example_limit", default=None)


def example_limit(trainer: Mapping[str, Any]) -> int | None:
    """The examples per split that a run with these trainer settings can use: max_steps x batch_size, or None."""
    max_steps, batch_size = trainer.get("max_steps"), trainer.get("batch_size")
    if max_steps is None or batch_size is None:
        return None
    return int(max_steps) * int(batch_size)


@contextlib.contextmanager
def limited_to(limit: int | None) -> Iterator[None]:
    """Within this block, :func:`limit_examples` keeps at most ``limit`` examples per split (None: all)."""
    token = _LIMIT.set(limit)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def current_limit() -> int | None:
    """The limit of the dataset being loaded, or None."""
    return _LIMIT.get()


def limit_examples(items: Any, targets: Any, split: str) -> tuple[Any, Any]:
    """At most the current limit of ``items`` and their ``targets``, spread evenly over the split."""
    return spread(items, targets, current_limit(), split)


def spread(items: Any, targets: Any, count: int | None, split: str) -> tuple[Any, Any]:
    """``count`` of ``items`` and their ``targets`` (all for None), evenly spaced over the split.

    Evenly spaced, not the first ones: a split listed class by class keeps every class.
    """
    import numpy as np  # here, not at the top: `dlbook train --cfg job` imports this module and needs no NumPy

    total = len(items)
    if count is None or total <= count:
        return items, targets
    chosen = np.linspace(0, total - 1, num=count).round().astype(np.int64)
    logger.info("debug limits: %s uses %d of its %d examples", split, count, total)
    if isinstance(items, list):
        return [items[index] for index in chosen], np.asarray(targets)[chosen]
    return np.asarray(items)[chosen], np.asarray(targets)[chosen]
