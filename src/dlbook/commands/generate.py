"""`dlbook generate run=<dir>`: text from a trained text-generation run (book 8.1)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dlbook.errors import DlbookError
from dlbook.run.generation import GENERATED_FILE, SAMPLES_FOLDER, format_samples, random_seed_text, sample_text
from dlbook.run.outcome import outcome


def generate(cfg: DictConfig) -> str:
    """`dlbook generate run=<dir>`: text from a run's model; printed and appended to samples/generated.txt.

    The run's config rebuilds its dataset (the character vocabulary; a random seed window when
    ``seed_text`` is null); its model.keras is loaded in Keras safe mode.
    """
    with outcome("generate"):
        from dlbook.run.saved import load_run_config

        run_dir = Path(cfg.run)
        run_cfg = load_run_config(run_dir)
        for key, value in (cfg.get("dataset") or {}).items():
            if value is not None:
                run_cfg.dataset[key] = value
        from hydra.utils import instantiate

        from dlbook.run.backend import select_backend

        select_backend(run_cfg.get("backend", "tensorflow"))  # the run's own backend, before Keras is imported

        data = instantiate(run_cfg.dataset)
        chars = data.info.get("chars")
        if not chars:
            raise DlbookError(
                f"run={run_dir} was not trained on a character dataset (its dataset is "
                f"{run_cfg.dataset.get('_target_')}); dlbook generate needs a text-generation run."
            )
        from dlbook.run.trainer import load_run_model

        unsafe_load = cfg.get("unsafe_load", False)
        model = load_run_model(run_dir, unsafe_load=unsafe_load, run_key="run", unsafe_key="unsafe_load")
        if model.output_shape[-1] != len(chars):
            raise DlbookError(
                f"run={run_dir}: the model predicts {model.output_shape[-1]} characters but the dataset now has "
                f"{len(chars)}; point dataset.path at the text the run was trained on."
            )
        rng = np.random.default_rng(cfg.seed)
        seed_text = cfg.seed_text
        if seed_text is None:
            seed_text = random_seed_text(data, rng)
        else:
            seed_text = str(seed_text)
            if data.info.get("lowercase"):
                seed_text = seed_text.lower()  # the run learned lower-cased text
        text = sample_text(model, seed_text, chars, cfg.length, float(cfg.temperature), rng)
    heading = f"generated {datetime.now(timezone.utc).isoformat()}, temperature {cfg.temperature}, seed {cfg.seed}"
    target = run_dir / SAMPLES_FOLDER / GENERATED_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as stream:
        stream.write(format_samples(seed_text, {float(cfg.temperature): text}, heading) + "\n")
    print(f"== generate {run_dir} (temperature {cfg.temperature}) ==\n{seed_text}{text}", flush=True)
    return text
