"""A Keras callback for the soak benchmark: it makes chosen sweep jobs fail, once each, in different ways.

`+callbacks.chaos={_target_:chaos.Chaos,raise_on:[7],nan_on:[19],kill_on:[31]}` (with bench/soak on
PYTHONPATH): job 7 raises an exception, job 19's weights turn NaN so its loss does, job 31 kills its own
process with SIGKILL. Each fault strikes once: it leaves a marker file in the job's folder first, so the
job runs normally when the sweep is resumed.
"""

import os
import signal
from pathlib import Path

import keras
import numpy as np
from hydra.core.hydra_config import HydraConfig


class Chaos(keras.callbacks.Callback):
    def __init__(self, raise_on=(), nan_on=(), kill_on=()) -> None:
        super().__init__()
        job = HydraConfig.get().job.num
        folder = Path(HydraConfig.get().runtime.output_dir)
        self.marker = folder / "chaos_struck"
        fault = {**dict.fromkeys(raise_on, "raise"), **dict.fromkeys(nan_on, "nan"), **dict.fromkeys(kill_on, "kill")}
        self.fault = None if self.marker.exists() else fault.get(job)

    def on_train_batch_begin(self, batch, logs=None):
        if self.fault is None:
            return
        fault, self.fault = self.fault, None
        self.marker.write_text(fault)
        if fault == "raise":
            raise RuntimeError("chaos: this job was told to fail")
        if fault == "nan":
            for weight in self.model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, dtype="float32"))
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
