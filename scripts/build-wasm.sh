#!/usr/bin/env bash
# Builds pkg/: the wasm module (burn-wgpu + the SIMD128 CPU path) with its wasm-bindgen JS glue.
#   cargo (wasm32, profile wasm-release) → wasm-bindgen (exactly Cargo.lock's version)
#   → scripts/patch-glue.mjs (trap recovery in the JS glue) → wasm-opt
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

started=$(date +%s)
cargo rustc --lib --profile wasm-release --target wasm32-unknown-unknown \
  --no-default-features --features wasm --crate-type cdylib
wasm="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/rqvae.wasm"

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$want" != "$have" ]; then
  echo "wasm-bindgen $want is needed (Cargo.lock), found '${have:-none}': cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name rqvae "$wasm"
# The glue as generated cannot load a second instance; the package replaces one that trapped.
node scripts/patch-glue.mjs pkg/rqvae.js

# Debian's binaryen 108 corrupts wasm-bindgen output; the npm package's is current.
# -O1, measured here on the opt-level "z" build: 22 s and 676 kB gzipped; -Oz took 75 s for 724 kB.
WASM_OPT=node_modules/.bin/wasm-opt
"$WASM_OPT" -O1 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/rqvae_bg.wasm -o pkg/rqvae_bg.wasm
rm -f pkg/.gitignore pkg/package.json
echo "built pkg/ in $(( $(date +%s) - started )) s: $(stat -c %s pkg/rqvae_bg.wasm) bytes wasm, $(gzip -9c pkg/rqvae_bg.wasm | wc -c) gzipped"
