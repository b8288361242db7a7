#!/usr/bin/env bash
# Training throughput of `rqvae-train` against a PyTorch implementation of the same model and
# recipe, side by side: the two alternate in one go on the same machine and threads, and the
# script prints each run's median seconds per epoch and the ratio (PyTorch's s/epoch over
# ours: above 1 means rqvae-train is faster).
#
#   benches/train-vs-pytorch.sh --peer PEER.py --embeddings EMB.npy [--epochs 8] [--runs 3]
#                               [--threads 2] [--engine auto|burn] [--backend cpu|cuda]
#                               [--bin RQVAE_TRAIN]
#
# PEER.py is called as `python3 PEER.py EMB.npy OUTDIR --epochs N --device cpu|cuda` and must write
# OUTDIR/torch_ref.time.json with `median_epoch_s` and `first_epoch_s` (k-means initialisation
# excluded, as rqvae-train's log.jsonl `seconds` are). `--backend cuda` runs both on the GPU
# (`--bin`: a release rqvae-train built with `--features cuda`, e.g. on a machine without cargo;
# CUDA_PATH defaults to the toolkit of `nvcc`). The first epoch is reported apart: on CUDA it
# includes kernel compilation, which rqvae-train caches between runs (RQVAE_KERNEL_CACHE).
set -euo pipefail

peer="" emb="" epochs=8 runs=3 threads=2 engine=auto backend=cpu bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer="$2"; shift 2 ;;
    --embeddings) emb="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --engine) engine="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$peer" ] || { echo "--peer: no PyTorch script at '$peer'" >&2; exit 2; }
[ -f "$emb" ] || { echo "--embeddings: no file at '$emb'" >&2; exit 2; }

case "$backend" in
  cpu) device=cpu ;;
  cuda)
    device=cuda
    export CUDA_PATH="${CUDA_PATH:-$(dirname "$(dirname "$(command -v nvcc)")")}" ;;
  *) echo "--backend: expected cpu or cuda, found '$backend'" >&2; exit 2 ;;
esac
if [ -z "$bin" ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  target="${CARGO_TARGET_DIR:-$root/target}"
  features=""
  [ "$backend" = cuda ] && features="--features cuda"
  # shellcheck disable=SC2086
  (cd "$root" && cargo build --release -q -p rqvae-train $features)
  bin="$target/release/rqvae-train"
fi
[ -x "$bin" ] || { echo "--bin: no executable at '$bin'" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads"

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
simd="$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512f|avx2|fma' | sort -u | tr '\n' ' ')"
echo "CPU: $cpu ($(nproc) cores; $simd); $threads threads each; $epochs epochs per run"
if [ "$backend" = cuda ]; then
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
fi

median_log() {
  python3 -c "import json,statistics,sys; print(statistics.median(json.loads(l)['seconds'] for l in open(sys.argv[1])))" "$1"
}
first_log() {
  python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['seconds'])" "$1"
}
peer_field() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"
}

ratios=()
for run in $(seq 1 "$runs"); do
  python3 "$peer" "$emb" "$work/peer$run" --epochs "$epochs" --device "$device" > /dev/null
  theirs="$(peer_field "$work/peer$run/torch_ref.time.json" median_epoch_s)"
  theirs_first="$(peer_field "$work/peer$run/torch_ref.time.json" first_epoch_s)"
  if ! "$bin" train --backend "$backend" --embeddings "$emb" --out "$work/ours$run" \
    --epochs "$epochs" --engine "$engine" --eval-queries 100 > "$work/ours$run.log" 2>&1; then
    cat "$work/ours$run.log" >&2
    exit 1
  fi
  ours="$(median_log "$work/ours$run/log.jsonl")"
  ours_first="$(first_log "$work/ours$run/log.jsonl")"
  ratio="$(python3 -c "print(f'{$theirs / $ours:.2f}')")"
  ratios+=("$ratio")
  printf 'run %d: PyTorch %.4f s/epoch (first %.2f s), rqvae-train (%s, %s engine) %.4f s/epoch (first %.2f s): %sx\n' \
    "$run" "$theirs" "$theirs_first" "$backend" "$engine" "$ours" "$ours_first" "$ratio"
done
sorted="$(printf '%s\n' "${ratios[@]}" | sort -n)"
echo "ratio (PyTorch s/epoch / rqvae-train s/epoch): $(echo "$sorted" | head -1)-$(echo "$sorted" | tail -1)x over $runs runs"
