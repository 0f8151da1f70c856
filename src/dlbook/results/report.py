"""The table printed at the end of a run: our numbers beside the book's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(item) for item in value) + "]"
    return str(value)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def reference_table(verdict: Mapping[str, Any] | None) -> str:
    """Rows: metric, dlbook, book, accepted band, reproduced, note."""
    if not verdict:
        return "(this experiment has no reference numbers from the book)"
    checks = [verdict, *verdict.get("others", [])]
    rows = [
        [
            check["metric"],
            _format(check["value"]),
            _format(check["book"]),
            _format(check["band"]),
            _format(check["reproduced"]),
            check.get("note") or "",
        ]
        for check in checks
    ]
    return table(rows, ["metric", "dlbook", "book", "band", "reproduced", "note"])


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """Every scalar metric of a run (test, validation, train, k-fold means) as split.metric rows."""
    rows = []
    for split in ("test", "val", "kfold", "train"):
        for name, value in (metrics.get(split) or {}).items():
            if isinstance(value, (int, float)) and not name.endswith("_epoch"):
                rows.append([f"{split}.{name}", _format(float(value))])
    return table(rows, ["metric", "value"])


def run_report(title: str, metrics: Mapping[str, Any], run_dir: str, debug: bool, backend: str | None = None) -> str:
    parts = [
        f"== {title} ==",
        metrics_table(metrics),
        "",
        "Compared with the book:",
        reference_table(metrics.get("reference")),
    ]
    reason = (metrics.get("reference") or {}).get("reason")
    if reason:
        parts.append(f"(not comparable with the book: {reason})")
    elif debug:
        parts.append("(debug settings: few steps and epochs, so the numbers are not comparable with the book)")
    if backend:
        parts += ["", f"Backend: {backend}"]
    parts += ["", f"Run directory: {run_dir}"]
    return "\n".join(parts)
