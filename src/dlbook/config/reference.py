"""Compare a run's metrics with the book's numbers (the experiment's ``reference:`` block).

A verdict's ``reproduced`` has three outcomes:

- ``true``: the run used the book's data and protocol, and its number lies inside the accepted band;
- ``false``: the same, but outside the band (too bad, or, for a two-sided band, suspiciously good: leakage);
- ``"not comparable"`` with a ``reason``: the run did not use the book's data or protocol (a bundled
  sample, generated data, ``debug=fast``, a changed dataset setting), so its number says nothing about
  the book's. ``in_band`` still says where the number fell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dlbook.errors import ConfigError

NOT_COMPARABLE = "not comparable"
# Dataset settings that say where the data is read from, not what it is: overriding them keeps a run comparable.
# (``source``: each loader says itself, through DataSplits.differs_from_book, when a source is not the book's.)
LOCATION_KEYS = frozenset({"path", "origin", "file_hash", "cache_dir", "source", "layout", "on_bad_image"})


def lookup(metrics: Mapping[str, Any], dotted: str) -> float | None:
    """The value at a dotted path such as ``test.accuracy`` or ``kfold.val_mae_mean`` (None if absent)."""
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) else None


def _check(metrics: Mapping[str, Any], entry: Mapping[str, Any], reason: str | None) -> dict[str, Any]:
    metric = entry.get("metric")
    if not metric:
        raise ConfigError(f"reference entry {dict(entry)!r} is not valid: it needs a `metric`, e.g. test.accuracy.")
    band = entry.get("band")
    value = lookup(metrics, metric)
    in_band = None
    if band is not None and value is not None:
        low, high = band
        in_band = bool(low <= value <= high)
    reproduced: bool | str | None = in_band if band is not None else None
    check = {
        "metric": metric,
        "book": entry.get("book"),
        "band": list(band) if band is not None else None,
        "value": value,
        "reproduced": reproduced,
        "in_band": in_band,
        "note": entry.get("note"),
    }
    if reason is not None:
        check.update(reproduced=NOT_COMPARABLE, reason=reason)
    return check


def judge(
    metrics: Mapping[str, Any], reference: Mapping[str, Any] | None, not_comparable: str | None = None
) -> dict[str, Any] | None:
    """The verdict for metrics.json: the main metric's check, plus ``others`` for secondary numbers.

    ``not_comparable``: why the run cannot be compared with the book (see :func:`not_comparable_reason`);
    every check then says ``reproduced: "not comparable"`` with that reason.
    """
    if not reference:
        return None
    verdict = _check(metrics, reference, not_comparable)
    if verdict["reproduced"] is None and verdict["band"] is not None:
        verdict["reproduced"] = False  # the metric is missing: not reproduced
    others = [_check(metrics, entry, not_comparable) for entry in reference.get("others") or []]
    if others:
        verdict["others"] = others
    return verdict


def not_comparable_reason(
    data_differs: str | None, trainer: Mapping[str, Any], overrides: Sequence[str] = ()
) -> str | None:
    """Why a run cannot be compared with the book, in words, or None when it can.

    ``data_differs``: the loader's DataSplits.differs_from_book; ``trainer``: the run's trainer settings
    (``max_epochs`` / ``max_steps`` are the debug limits); ``overrides``: the run's command-line overrides,
    where a changed dataset setting (a subset, another vocabulary) makes other data than the book's.
    """
    reasons = []
    if data_differs:
        reasons.append(data_differs)
    limits = [
        f"trainer.{key}={trainer.get(key)}" for key in ("max_epochs", "max_steps") if trainer.get(key) is not None
    ]
    if limits:
        reasons.append(f"debug limits ({', '.join(limits)}): a smoke run, not the book's protocol")
    changed = [override for override in overrides if _changes_data(override)]
    if changed:
        reasons.append(f"dataset settings changed ({' '.join(changed)}): not the book's data")
    return "; ".join(reasons) or None


def _changes_data(override: str) -> bool:
    key = override.split("=", 1)[0].lstrip("+~")
    return key.startswith("dataset.") and key.rsplit(".", 1)[-1] not in LOCATION_KEYS
