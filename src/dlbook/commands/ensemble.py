"""`dlbook ensemble runs=[<run dir>,<run dir>]`: average finished runs' predictions (book 7.3.3)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dlbook.results.ensemble import ensemble_table, run_ensemble
from dlbook.run.directory import write_json
from dlbook.run.outcome import outcome

ENSEMBLE_METRICS_FILE = "ensemble_metrics.json"


def ensemble(cfg: DictConfig) -> dict:
    """Hydra task of `dlbook ensemble`: write ensemble_metrics.json to the output folder and print a table."""
    with outcome("ensemble"):
        result = run_ensemble(cfg.runs, cfg.weights, cfg.batch_size, unsafe_load=cfg.get("unsafe_load", False))
        output_dir = Path(cfg.paths.run_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(output_dir / ENSEMBLE_METRICS_FILE, result)
    print(f"== ensemble of {len(result['runs'])} runs ==\n{ensemble_table(result)}", flush=True)
    print(f"Written: {output_dir / ENSEMBLE_METRICS_FILE}", flush=True)
    return result
