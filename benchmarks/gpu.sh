#!/usr/bin/env bash
# The prepared GPU speed run (issue 11): inference FPS of five zoo models at 1024x2048 and 512x1024 on eager
# fp32/fp16, channels-last, CUDA graphs, torch.compile and ONNX Runtime CUDA/TensorRT (when they import), and
# training images/s with bf16-mixed. Ends within 8 minutes (gpu_bench.py stops starting work after
# --budget-s, 450 s by default; the timeout below is the backstop). Writes benchmarks/results/gpu.{json,md}.
#
#   bash benchmarks/gpu.sh                       # PYTHON=/path/to/python to choose the interpreter
#   bash benchmarks/gpu.sh --models sfnet_r18    # any gpu_bench.py arguments
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" NO_ALBUMENTATIONS_UPDATE=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
"$PYTHON" benchmarks/gpu_bench.py --dry-run "$@"
timeout 470 "$PYTHON" benchmarks/gpu_bench.py "$@"
