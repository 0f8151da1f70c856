"""curves.png: training and validation curves in the book's style (loss, and the main metric)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any


def plot_curves(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """One row of panels per fit phase shown: loss and the first other metric, train dots vs validation line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_phase[row["phase"]].append(row)
    if not by_phase:
        return
    phases = list(by_phase)
    metric_names = [
        key for key in rows[0] if key not in ("phase", "epoch", "loss", "seconds") and not key.startswith("val_")
    ]
    panels = ["loss"] + metric_names[:1]
    figure, axes = plt.subplots(len(phases), len(panels), figsize=(5 * len(panels), 3.2 * len(phases)), squeeze=False)
    for row_axes, phase in zip(axes, phases, strict=True):
        epochs = [row["epoch"] for row in by_phase[phase]]
        for axis, metric in zip(row_axes, panels, strict=True):
            axis.plot(
                epochs,
                [row.get(metric) for row in by_phase[phase]],
                "bo",
                markersize=3,
                label=f"training {metric}",
            )
            if f"val_{metric}" in by_phase[phase][0]:
                axis.plot(
                    epochs,
                    [row.get(f"val_{metric}") for row in by_phase[phase]],
                    "b",
                    label=f"validation {metric}",
                )
            axis.set_title(f"{phase}: {metric}")
            axis.set_xlabel("epoch")
            axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
