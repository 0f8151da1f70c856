"""Compare a run's metrics with the book's numbers (the experiment's ``reference:`` block)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbook.errors import ConfigError


def lookup(metrics: Mapping[str, Any], dotted: str) -> float | None:
    """The value at a dotted path such as ``test.accuracy`` or ``kfold.val_mae_mean`` (None if absent)."""
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) else None


def _check(metrics: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    metric = entry.get("metric")
    if not metric:
        raise ConfigError(f"reference entry {dict(entry)!r} is not valid: it needs a `metric`, e.g. test.accuracy.")
    band = entry.get("band")
    value = lookup(metrics, metric)
    reproduced = None
    if band is not None and value is not None:
        low, high = band
        reproduced = bool(low <= value <= high)
    return {
        "metric": metric,
        "book": entry.get("book"),
        "band": list(band) if band is not None else None,
        "value": value,
        "reproduced": reproduced if band is not None else None,
        "note": entry.get("note"),
    }


def judge(metrics: Mapping[str, Any], reference: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The verdict for metrics.json: the main metric's check, plus ``others`` for secondary numbers."""
    if not reference:
        return None
    verdict = _check(metrics, reference)
    if verdict["reproduced"] is None and verdict["band"] is not None:
        verdict["reproduced"] = False  # the metric is missing: not reproduced
    others = [_check(metrics, entry) for entry in reference.get("others") or []]
    if others:
        verdict["others"] = others
    return verdict
