#!/usr/bin/env bash
# Training throughput of `rqvae-train` against a PyTorch implementation of the same model and
# recipe, side by side: the two alternate in one go on the same machine and threads, and the
# script prints each run's median seconds per epoch and the ratio (PyTorch's s/epoch over
# ours: above 1 means rqvae-train is faster).
#
#   benches/train-vs-pytorch.sh --peer PEER.py --embeddings EMB.npy [--epochs 8] [--runs 3]
#                               [--threads 2] [--engine auto|burn]
#
# PEER.py is called as `python3 PEER.py EMB.npy OUTDIR --epochs N --device cpu` and must write
# OUTDIR/torch_ref.time.json with `median_epoch_s` (the median over its epochs, k-means
# initialisation excluded, as rqvae-train's log.jsonl `seconds` are).
set -euo pipefail

peer="" emb="" epochs=8 runs=3 threads=2 engine=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer="$2"; shift 2 ;;
    --embeddings) emb="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --engine) engine="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$peer" ] || { echo "--peer: no PyTorch script at '$peer'" >&2; exit 2; }
[ -f "$emb" ] || { echo "--embeddings: no file at '$emb'" >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -q -p rqvae-train)
bin="$target/release/rqvae-train"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads"

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
simd="$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512f|avx2|fma' | sort -u | tr '\n' ' ')"
echo "CPU: $cpu ($(nproc) cores; $simd); $threads threads each; $epochs epochs per run"

median_log() {
  python3 -c "import json,statistics,sys; print(statistics.median(json.loads(l)['seconds'] for l in open(sys.argv[1])))" "$1"
}

ratios=()
for run in $(seq 1 "$runs"); do
  python3 "$peer" "$emb" "$work/peer$run" --epochs "$epochs" --device cpu > /dev/null
  theirs="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['median_epoch_s'])" "$work/peer$run/torch_ref.time.json")"
  "$bin" train --embeddings "$emb" --out "$work/ours$run" --epochs "$epochs" \
    --engine "$engine" --eval-queries 100 > /dev/null 2>&1
  ours="$(median_log "$work/ours$run/log.jsonl")"
  ratio="$(python3 -c "print(f'{$theirs / $ours:.2f}')")"
  ratios+=("$ratio")
  printf 'run %d: PyTorch %.3f s/epoch, rqvae-train (%s engine) %.3f s/epoch: %sx\n' \
    "$run" "$theirs" "$engine" "$ours" "$ratio"
done
sorted="$(printf '%s\n' "${ratios[@]}" | sort -n)"
echo "ratio (PyTorch s/epoch / rqvae-train s/epoch): $(echo "$sorted" | head -1)-$(echo "$sorted" | tail -1)x over $runs runs"
