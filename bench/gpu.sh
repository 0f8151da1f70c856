#!/usr/bin/env bash
# GPU checks, for a machine with one or more NVIDIA GPUs (a few minutes). Writes its figures to
# ${OUT_DIR:-bench/results}/gpu_sweep.json and prints them.
#   1. dlbook's launcher with gpus=auto: 4 jobs, 2 per GPU; each job reports the GPU it saw and a step time.
#   2. With TensorFlow installed: the speed-feature bench (XLA, mixed precision) on the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export OUT_DIR=${OUT_DIR:-bench/results}
mkdir -p "$OUT_DIR"
nvidia-smi -L
$PYTHON bench/gpu_sweep/probe.py -m 'index=range(4)' hydra.launcher.gpus=auto hydra.launcher.jobs_per_gpu=2
$PYTHON - <<'PY'
import json, os, pathlib
jobs = sorted(pathlib.Path(os.environ["OUT_DIR"], "gpu_sweep").glob("*/probe.json"))
import subprocess
records = [json.loads(job.read_text()) for job in jobs]
for record in records:
    print(f"job {record['index']}: slot {record['slot']}, CUDA_VISIBLE_DEVICES={record['cuda_visible_devices']!r}, "
          f"sees {record['gpus_seen']}, {record['framework']}, matmul 4096^2 {record['step_ms']:.2f} ms")
device = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
result = {"benchmark": "gpu_sweep", "device": device, "jobs": records}
pathlib.Path(os.environ["OUT_DIR"], "gpu_sweep.json").write_text(json.dumps(result, indent=2))
PY
if $PYTHON -c "import tensorflow" 2>/dev/null; then
  $PYTHON bench/speed_features.py
else
  echo "TensorFlow is not installed here: the training speed checks (XLA, mixed precision) were skipped."
fi
