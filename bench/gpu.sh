#!/usr/bin/env bash
# The GPU check: dlbook's real training runs on this machine's GPUs, under 8 minutes, asserted; writes
# $OUT/gpu_report.md (or --report PATH; default bench/results/gpu_report.md). Needs only the working tree
# and the machine's own packages.
#   bench/gpu.sh                      # on a GPU machine, TensorFlow backend
#   bench/gpu.sh --backend jax        # dlbook on the JAX backend (backend=jax)
#   bench/gpu.sh --dry-run            # on any machine: checks the script's own plumbing on the CPU
# Exit status: 0 passed, 1 a check failed, 3 it could not run here (the report says why).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" bench/gpu_check.py "$@"
