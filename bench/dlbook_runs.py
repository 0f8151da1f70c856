"""What the benchmarks share: run `dlbook train` in a fresh process and read its epoch times."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def dlbook_epoch_seconds(
    experiment: str, data: Path, epochs: int, workdir: Path, overrides: Sequence[str] = ()
) -> list[float]:
    """Seconds of every epoch of the main fit of `dlbook train experiment=<experiment>` on ``data``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dlbook",
            "train",
            f"experiment={experiment}",
            f"dataset.path={data}",
            f"trainer.epochs={epochs}",
            "callbacks=none",
            "trainer.progress=none",
            f"paths.output_dir={workdir}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    history = sorted(workdir.glob(f"{experiment}/*/history.csv"))[-1]
    return [float(row["seconds"]) for row in csv.DictReader(open(history)) if row["phase"] == "fit"]
