"""Where a pipeline's data lives during training: its resident tensors are made in host memory (/CPU:0).

On a GPU machine TensorFlow puts a tensor made outside any device scope on the GPU. Emulated here: the CPU
is split into two logical devices and the pipelines are built under ``tf.device('/CPU:1')``, standing in
for the GPU a fit runs on; every resident tensor must still be on /CPU:0. TensorFlow fixes its devices
once per process, so this runs in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json

    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from dlbook.datasets.io.examples import Examples, RaggedSequences
    from dlbook.datasets.jena_climate import Window, WindowPipeline
    from dlbook.datasets.io.pipeline import resident, to_tf_dataset

    rows = np.arange(200 * 3, dtype=np.float32).reshape(200, 3)
    windows = Examples(np.arange(60, 100), rows[60:100, 1])
    ragged = RaggedSequences(np.arange(6, dtype=np.int32), np.array([0, 2, 6], dtype=np.int64))
    with tf.device("/CPU:1"):  # the device a fit runs on (a GPU on a GPU machine)
        plain = resident(np.ones((4, 2), np.float32))
        named = resident({"a": np.ones(4, np.float32), "b": np.zeros(4, np.int64)})
        words = resident(ragged)
        series, end_rows, targets = WindowPipeline(rows, Window(lookback=12, step=3, delay=6)).resident(windows)
        batch = next(iter(to_tf_dataset(Examples(np.ones((4, 2), np.float32), np.ones(4)), 2, shuffle=False)))
    devices = {
        "array": plain.device,
        "named": sorted(tensor.device for tensor in named.values()),
        "ragged": [words.flat_values.device, words.row_splits.device],
        "jena": [series.device, end_rows.device, targets.device],
    }
    print(json.dumps({"devices": devices, "batch": list(batch[0].shape)}))
    """
)


def test_every_pipelines_resident_tensors_are_in_host_memory(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    devices = result["devices"]
    flat = [devices["array"], *devices["named"], *devices["ragged"], *devices["jena"]]
    assert len(flat) == 8
    assert all(device.endswith("/device:CPU:0") for device in flat), devices
    assert result["batch"] == [2, 2]  # the pipeline still works from there
