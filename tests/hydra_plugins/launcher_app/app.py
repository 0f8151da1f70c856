"""A tiny Hydra app on dlbook's launcher, for launcher tests: each job records what it saw, then works a while.

Each job writes job.json into its folder: the CUDA_VISIBLE_DEVICES and thread settings it got, its process id,
and its start and end times. `behaviour` makes a job raise (also an exception that pickles badly), or
kill its own process.
"""

import json
import os
import signal
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig


class StubbornError(Exception):
    """An exception that cannot be rebuilt from its args alone (as NonFiniteLoss once could not)."""

    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message)
        self.where = where


@hydra.main(version_base="1.3", config_path=".", config_name="app")
def job(cfg) -> float:
    started = time.time()
    if cfg.behaviour == "raise":
        raise ValueError(f"job {cfg.index} was told to fail")
    if cfg.behaviour == "stubborn":
        raise StubbornError(f"job {cfg.index} failed stubbornly", where="here")
    if cfg.behaviour == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(cfg.seconds)
    record = {
        "index": cfg.index,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "pid": os.getpid(),
        "start": started,
        "end": time.time(),
    }
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    (output_dir / "job.json").write_text(json.dumps(record))
    return float(cfg.index)


if __name__ == "__main__":
    job()
