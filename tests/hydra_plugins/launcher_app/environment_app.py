"""A tiny Hydra app on dlbook's launcher that records the environment each job process was started with.

Each job writes environment.json into its folder: the launcher's GPU, memory-share and thread variables.
It uses app.yaml, the launcher tests' config.
"""

import json
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig

VARIABLES = (
    "CUDA_VISIBLE_DEVICES",
    "DLBOOK_LAUNCHER_SLOT",
    "DLBOOK_GPU_MEMORY_FRACTION",
    "DLBOOK_GPU_MEMORY_LIMIT_MB",
    "TF_FORCE_GPU_ALLOW_GROWTH",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "TF_NUM_INTRAOP_THREADS",
    "OMP_NUM_THREADS",
)


@hydra.main(version_base="1.3", config_path=".", config_name="app")
def job(cfg) -> float:
    record = {"index": cfg.index, **{name: os.environ.get(name) for name in VARIABLES}}
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    (output_dir / "environment.json").write_text(json.dumps(record))
    return float(cfg.index)


if __name__ == "__main__":
    job()
