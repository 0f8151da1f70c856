"""`dlbook evaluate run=<dir>`: reload a run's model and config, evaluate on its test split."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from dlbook.results.report import table
from dlbook.run.directory import METRICS_FILE, read_json, write_json
from dlbook.run.outcome import outcome
from dlbook.run.saved import load_run_config

EVAL_METRICS_FILE = "eval_metrics.json"


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate the saved model on the test split; write eval_metrics.json beside the run's metrics."""
    with outcome("evaluate"):
        run_dir = Path(cfg.run)
        run_cfg = load_run_config(run_dir)
        for key, value in cfg.dataset.items():
            if value is not None:
                run_cfg.dataset[key] = value

        from dlbook.run.backend import select_backend

        select_backend(run_cfg.get("backend", "tensorflow"))  # the run's own backend, before Keras is imported
        from dlbook.run.runtime import prepare_backend
        from dlbook.run.trainer import evaluate_model, load_run_model

        prepare_backend(run_cfg.seed, run_cfg.deterministic)
        data = instantiate(run_cfg.dataset)
        model = load_run_model(
            run_dir, unsafe_load=cfg.get("unsafe_load", False), run_key="run", unsafe_key="unsafe_load"
        )
        results = evaluate_model(model, data.test, data, run_cfg.trainer, batch_size=cfg.batch_size)
    write_json(
        run_dir / EVAL_METRICS_FILE,
        {"test": results, "evaluated": datetime.now(timezone.utc).isoformat(), "data": data.source},
    )
    trained = read_json(run_dir / METRICS_FILE).get("test", {}) if (run_dir / METRICS_FILE).is_file() else {}
    rows = [
        [name, f"{value:.4f}", f"{trained[name]:.4f}" if name in trained else "-"] for name, value in results.items()
    ]
    print(f"== evaluate {run_dir} ==\n" + table(rows, ["metric", "evaluate", "at training"]), flush=True)
    return results
