#!/usr/bin/env bash
# The GPU proof, for a machine with an NVIDIA GPU and a CUDA toolkit (nvcc on PATH).
# Trains the reference recipe on EMBEDDINGS with --backend cuda, then reports seconds per
# epoch (from log.jsonl) and the metrics. Usage:
#   scripts/cuda-check.sh BIN EMBEDDINGS OUT_DIR [EPOCHS]
# where BIN is a release rqvae-train built with `--features cuda`.
set -euo pipefail
bin=$1 data=$2 out=$3 epochs=${4:-1000}
CUDA_PATH=$(dirname "$(dirname "$(command -v nvcc)")")
export CUDA_PATH
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$bin" train --backend cuda --embeddings "$data" --out "$out/run" --epochs "$epochs" \
  --checkpoint-every 50 --eval-queries 0
python3 - "$out/run/log.jsonl" <<'PY'
import json, statistics, sys
secs = [json.loads(l)["seconds"] for l in open(sys.argv[1])]
print(f"epochs {len(secs)}, median {statistics.median(secs):.3f} s/epoch, first {secs[0]:.2f} s")
PY
cat "$out/run/metrics.json"
