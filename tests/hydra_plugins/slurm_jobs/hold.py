"""A Keras callback for the SLURM fault tests: it keeps chosen sweep jobs in their first batch.

`+callbacks.hold={_target_:hold.Hold,marker:<file>,jobs:[1]}` (with this folder on PYTHONPATH): while
<file> exists, jobs 1 (here) wait at their first batch, so that the test can cancel them or let them run
into their time limit while they are surely training. A stop request (SIGTERM) ends the wait, so the run
stops at that batch as dlbook stops any run. Without the file (a resumed sweep) the jobs run normally.
"""

import time
from pathlib import Path

import keras
from hydra.core.hydra_config import HydraConfig

from dlbook.run.faults import STOP_REQUESTS


class Hold(keras.callbacks.Callback):
    def __init__(self, marker, jobs=()) -> None:
        super().__init__()
        self.marker = Path(marker)
        self.held = HydraConfig.get().job.num in list(jobs)

    def on_train_batch_begin(self, batch, logs=None):
        while self.held and self.marker.exists() and STOP_REQUESTS.signal_name is None:
            time.sleep(0.1)
        self.held = False
