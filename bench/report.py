"""Collect the benchmark results (bench/results/*.json) into bench/results.md, with the machine and versions."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}; "
        f"Python {platform.python_version()}, TensorFlow {version('tensorflow')}, Keras {version('keras')}.",
        "Each figure is a median over interleaved runs; ratios compare the two sides measured in the same run.",
        "",
        "| benchmark | figure | value |",
        "|---|---|---|",
    ]
    for path in sorted((HERE / "results").glob("*.json")):
        result = json.loads(path.read_text())
        name = result.pop("benchmark", path.stem)
        for key, value in result.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            lines.append(f"| {name} | {key} | {shown} |")
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
