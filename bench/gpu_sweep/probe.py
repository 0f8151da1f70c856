"""A Hydra app on dlbook's launcher for GPU machines: each job reports the GPU it was given and times a step.

`python bench/gpu_sweep/probe.py -m index=range(4) hydra.launcher.gpus=auto hydra.launcher.jobs_per_gpu=2`
Each job writes probe.json in its folder: CUDA_VISIBLE_DEVICES, the GPUs its framework sees (TensorFlow if
installed, else PyTorch), and the median time of a 4096 x 4096 float32 matrix product on that GPU.
"""

import json
import os
import statistics
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig


def _tensorflow_probe() -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    x = tf.random.normal((4096, 4096))
    times = []
    for _ in range(12):
        start = time.perf_counter()
        _ = tf.matmul(x, x).numpy()
        times.append(time.perf_counter() - start)
    return {
        "framework": f"tensorflow {tf.__version__}",
        "gpus_seen": names,
        "step_ms": statistics.median(times[2:]) * 1e3,
    }


def _torch_probe() -> dict:
    import torch

    names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    device = "cuda" if names else "cpu"
    x = torch.randn(4096, 4096, device=device)
    times = []
    for _ in range(12):
        start = time.perf_counter()
        _ = (x @ x).sum().item()
        times.append(time.perf_counter() - start)
    return {
        "framework": f"torch {torch.__version__}",
        "gpus_seen": names,
        "step_ms": statistics.median(times[2:]) * 1e3,
    }


@hydra.main(version_base="1.3", config_path=".", config_name="probe")
def probe(cfg) -> float:
    started = time.time()
    try:
        report = _tensorflow_probe()
    except ImportError:
        report = _torch_probe()
    report.update(
        index=cfg.index,
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        slot=os.environ.get("DLBOOK_LAUNCHER_SLOT"),
        start=started,
        end=time.time(),
    )
    (Path(HydraConfig.get().runtime.output_dir) / "probe.json").write_text(json.dumps(report))
    return report["step_ms"]


if __name__ == "__main__":
    probe()
