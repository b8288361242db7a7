#!/usr/bin/env bash
# Training recipes side by side on one GPU (issue: ID quality): every recipe below trains at once
# on the same embeddings, then each model is scored with every item as a query. Usage:
#   scripts/recipe-sweep.sh BIN EMBEDDINGS OUT_DIR [EPOCHS] [BACKEND]
# BIN: a release rqvae-train (built with `--features cuda` for BACKEND cuda, the default).
# Prints one line per recipe: epochs done, median s/epoch and the metrics of `eval --queries 0`.
# A run still going after LIMIT seconds (default 470) is stopped with Ctrl-C and scored from its
# checkpoint, so the table always comes back within a device lease.
set -u
bin=$1 data=$2 out=$3 epochs=${4:-500} backend=${5:-cuda}
limit=${LIMIT:-470}
[ "$backend" = cuda ] && export CUDA_PATH=${CUDA_PATH:-$(dirname "$(dirname "$(command -v nvcc)")")}
mkdir -p "$out"
warm='"dead_code_source": "high_error", "kmeans_on_all_rows": true, "ae_warmup_epochs": 20'
sinkhorn='"sinkhorn_epsilon": [0.03, 0.03, 0.03], "sinkhorn_iterations": 10'
declare -A recipes=(
  [shipped]=''
  [warm]="$warm"
  [sinkhorn_warm]="$sinkhorn, $warm"
  [sinkhorn]="$sinkhorn, \"dead_code_source\": \"high_error\", \"kmeans_on_all_rows\": true"
)
for name in "${!recipes[@]}"; do
  extra=${recipes[$name]}
  echo "{\"epochs\": $epochs, \"batch_size\": 512, \"lr\": 1e-3${extra:+, $extra}}" > "$out/$name.json"
  timeout -s INT "$limit" "$bin" train --backend "$backend" --embeddings "$data" --out "$out/$name" \
    --train-config "$out/$name.json" --checkpoint-every 100 --eval-queries 0 > "$out/$name.log" 2>&1 &
done
wait
for name in "${!recipes[@]}"; do
  run=$out/$name
  if [ ! -f "$run/metrics.json" ] && [ -f "$run/checkpoint/model.safetensors" ]; then
    "$bin" eval --model "$run/checkpoint/model.safetensors" --embeddings "$data" --queries 0 \
      --json "$run/metrics.json" > /dev/null 2>&1
  fi
done
python3 - "$out" "${!recipes[@]}" <<'PY'
import json, statistics, sys
out, names = sys.argv[1], sys.argv[2:]
for name in sorted(names):
    try:
        secs = [json.loads(l)["seconds"] for l in open(f"{out}/{name}/log.jsonl")]
        m = json.load(open(f"{out}/{name}/metrics.json"))
    except (OSError, ValueError) as e:
        print(f"{name}: no result ({e})")
        continue
    ppl = "/".join(f"{l['perplexity']:.0f}" for l in m["levels"])
    print(f"{name}: {len(secs)} epochs, {statistics.median(secs):.2f} s/epoch | cosine {m['cosine_mean']:.3f}"
          f" NN@5 {m['nn_overlap_at_5']:.3f} unique {m['unique_fraction']*100:.1f} %"
          f" prefix-1 {m['prefix1_nn']:.3f}/{m['prefix1_random']:.4f} perplexity {ppl}")
PY
