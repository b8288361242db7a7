#!/usr/bin/env bash
# Titles per second of `rqvae-train embed` against sentence-transformers (PyTorch eager) on the
# same model, items, machine and thread count, alternating in one go; prints each run, the
# medians, the ratio (ours over theirs: above 1 means rqvae-train is faster) and the CPU. The last
# run's vectors are compared too (cosine min and mean), so a fast wrong answer cannot pass.
#
#   benches/embed-vs-sentence-transformers.sh --python VENV/bin/python --items ITEMS.jsonl
#       [--text-model models/all-MiniLM-L6-v2] [--threads 1] [--runs 3] [--bin RQVAE_TRAIN]
#
# The Python needs torch, sentence-transformers and numpy (pip install them in a virtualenv).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="" items="" model="$root/models/all-MiniLM-L6-v2" threads=1 runs=3 bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python="$2"; shift 2 ;;
    --items) items="$2"; shift 2 ;;
    --text-model) model="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$python" ] || { echo "--python: no Python at '$python'" >&2; exit 2; }
[ -f "$items" ] || { echo "--items: no file at '$items'" >&2; exit 2; }
[ -d "$model" ] || { echo "--text-model: no directory at '$model' (scripts/fetch-text-model.sh)" >&2; exit 2; }
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release -q -p rqvae-train)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/rqvae-train"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cores="$(nproc)"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads" HF_HUB_OFFLINE=1

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
simd="$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512f|avx2|fma' | sort -u | tr '\n' ' ')"
echo "CPU: $cpu ($cores cores; $simd); $threads thread(s) each; $(wc -l < "$items") items"
ours=() theirs=()
for r in $(seq 1 "$runs"); do
  peer=$("$python" "$root/benches/text_peer.py" "$model" "$items" "$threads" "$work/peer.npy" 2>/dev/null | tail -1)
  rate=$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["items_per_s"])' "$peer")
  theirs+=("$rate")
  line=$("$bin" embed --text-model "$model" --items "$items" --out "$work/ours.npy" 2>&1 | tail -1)
  mine=$(sed -E 's/.*\(([0-9.]+) items\/s\).*/\1/' <<<"$line")
  ours+=("$mine")
  echo "run $r: sentence-transformers $rate titles/s; rqvae-train $mine titles/s"
done
"$python" - "$work/ours.npy" "$work/peer.npy" "${ours[*]}" "${theirs[*]}" <<'PY'
import sys, statistics, numpy as np
a, b = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
ours = statistics.median(map(float, sys.argv[3].split()))
theirs = statistics.median(map(float, sys.argv[4].split()))
print(f"median: rqvae-train {ours:.1f} titles/s, sentence-transformers {theirs:.1f} titles/s: {ours / theirs:.2f}x")
print(f"vectors of the last run: cosine min {cos.min():.8f}, mean {cos.mean():.8f}")
PY
