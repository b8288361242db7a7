#!/usr/bin/env bash
# Every check of the project, as the README's test command (`npm test`) runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

# The CUDA feature is part of every native build so that it cannot rot on machines without a GPU:
# the CUDA libraries are loaded at run time, so it compiles and links here.
FEATURES=(--workspace --all-targets --features rqvae-train/cuda)

echo "== cargo clippy -D warnings (native, CUDA included)"
cargo clippy "${FEATURES[@]}" -- -D warnings

echo "== cargo clippy -D warnings (wasm32 API)"
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features wasm -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features wasm,relaxed-simd -- -D warnings

echo "== cargo test (release: the tests train small models)"
cargo test --release "${FEATURES[@]}"

echo "== npm run build (wasm package)"
npm run build

echo "== JavaScript tests: Node (CPU), Chromium (CPU + WebGPU), npm tarball, demo"
node --test --test-concurrency=1 tests/js/
