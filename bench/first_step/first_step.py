"""A Keras callback for bench/startup.py: the time of the first training batch, then the end of the process.

Used the same way on both sides, so that both are measured at the same point, the first
`on_train_batch_begin` of the first fit:
- dlbook: `+callbacks.first_step={_target_:first_step.FirstStep,path:<file>}` with this folder on PYTHONPATH
  (the product needs no test hook: its callbacks are configs);
- the plain script: `python bench/plain_imdb_dense.py <imdb.npz> 1 --first-step <file>`.
The time written is `time.time()`, comparable with the parent's clock when it started the process.
"""

import os
import time
from pathlib import Path

import keras


class FirstStep(keras.callbacks.Callback):
    def __init__(self, path: str, stop: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.stop = stop
        self.seen = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen:
            return
        self.seen = True
        self.path.write_text(repr(time.time()))
        if self.stop:
            # Nothing after the first step is measured: end the process now, without TensorFlow's teardown.
            os._exit(0)
