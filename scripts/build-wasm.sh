#!/usr/bin/env bash
# Builds pkg/: two wasm modules with one wasm-bindgen JS glue, and the text module with its own.
#   rqvae_bg.wasm          burn-wgpu + the SIMD128 CPU path (every engine the package supports)
#   rqvae_relaxed_bg.wasm  the same, with the CPU path's fast encode on f32x4.relaxed_madd
#                          (feature relaxed-simd; js/wasm.js loads it where the engine validates
#                          relaxed SIMD)
#   rqvae_text_bg.wasm     the sentence encoder and its tokenizer (feature wasm-text; loaded only
#                          when text is used, by js/text-wasm.js), glue pkg/rqvae_text.js
# Then the default text model as one bundle, www/models/minilm-l6-v2.text.safetensors, from
# models/all-MiniLM-L6-v2 (scripts/fetch-text-model.sh), written by the text module itself.
# For each: cargo (wasm32, profile wasm-release) → wasm-bindgen (exactly Cargo.lock's version);
# then scripts/patch-glue.mjs (trap recovery in the JS glue) → wasm-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$want" != "$have" ]; then
  echo "wasm-bindgen $want is needed (Cargo.lock), found '${have:-none}': cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi

started=$(date +%s)
wasm="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/rqvae.wasm"
relaxed_out=$(mktemp -d)
trap 'rm -rf "$relaxed_out"' EXIT

# Only the kernel functions enable relaxed-simd (no RUSTFLAGS change), so the dependencies are
# compiled once; the feature only rebuilds the rqvae crate itself.
cargo rustc --lib --profile wasm-release --target wasm32-unknown-unknown \
  --no-default-features --features wasm,relaxed-simd --crate-type cdylib
wasm-bindgen --target web --out-dir "$relaxed_out" --out-name rqvae "$wasm"

cargo rustc --lib --profile wasm-release --target wasm32-unknown-unknown \
  --no-default-features --features wasm --crate-type cdylib
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name rqvae "$wasm"

# One glue serves both modules only if they have the same imports and exports. (Comments may
# differ: they name closure shims by their index in each module.)
code_of() { grep -v '^[[:space:]]*//' "$1"; }
if ! cmp -s <(code_of pkg/rqvae.js) <(code_of "$relaxed_out/rqvae.js"); then
  echo "build-wasm: the relaxed-SIMD module's glue differs from the SIMD128 module's; both must export the same API" >&2
  diff <(code_of pkg/rqvae.js) <(code_of "$relaxed_out/rqvae.js") | head -20 >&2
  exit 1
fi
mv "$relaxed_out/rqvae_bg.wasm" pkg/rqvae_relaxed_bg.wasm

# The text module, last: cargo writes every build of the crate to the same rqvae.wasm.
cargo rustc --lib --profile wasm-release --target wasm32-unknown-unknown \
  --no-default-features --features wasm-text --crate-type cdylib
wasm-bindgen --target web --out-dir pkg --out-name rqvae_text "$wasm"

# The glue as generated cannot load a second instance; the package replaces one that trapped.
node scripts/patch-glue.mjs pkg/rqvae.js
node scripts/patch-glue.mjs pkg/rqvae_text.js

# Debian's binaryen 108 corrupts wasm-bindgen output; the npm package's is current.
# -O1, measured here on the opt-level "z" build: 22 s and 676 kB gzipped; -Oz took 75 s for 724 kB.
WASM_OPT=node_modules/.bin/wasm-opt
FEATURES=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
"$WASM_OPT" -O1 "${FEATURES[@]}" pkg/rqvae_bg.wasm -o pkg/rqvae_bg.wasm
"$WASM_OPT" -O1 "${FEATURES[@]}" --enable-relaxed-simd pkg/rqvae_relaxed_bg.wasm -o pkg/rqvae_relaxed_bg.wasm
"$WASM_OPT" -O1 "${FEATURES[@]}" pkg/rqvae_text_bg.wasm -o pkg/rqvae_text_bg.wasm
rm -f pkg/.gitignore pkg/package.json
node scripts/text-bundle.mjs
for f in pkg/rqvae_bg.wasm pkg/rqvae_relaxed_bg.wasm pkg/rqvae_text_bg.wasm; do
  echo "built $f: $(stat -c %s "$f") bytes, $(gzip -9c "$f" | wc -c) gzipped"
done
echo "built pkg/ in $(( $(date +%s) - started )) s"
