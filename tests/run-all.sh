#!/usr/bin/env bash
# Every check of the project, as the README's test command (`npm test`) runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

# The CUDA feature is part of every native build so that it cannot rot on machines without a GPU:
# the CUDA libraries are loaded at run time, so it compiles and links here.
FEATURES=(--workspace --features rqvae-train/cuda)

# Clippy runs in the profiles of the builds that follow (release; wasm-release for the wasm32
# API), so that their build scripts and proc macros (burn's and cubecl's are large) are compiled
# once per profile instead of once more for clippy's own.
echo "== cargo clippy -D warnings (native, CUDA included)"
cargo clippy --release --all-targets "${FEATURES[@]}" -- -D warnings

echo "== cargo clippy -D warnings (wasm32 API)"
for features in wasm wasm,relaxed-simd wasm-text; do
  cargo clippy --lib --profile wasm-release --target wasm32-unknown-unknown \
    --no-default-features --features "$features" -- -D warnings
done

# The tests run on the shipped sample and on data they make. The checks about the full catalog
# itself are #[ignore]d ("needs the full catalog"), so cargo names each one it leaves out; with
# RQVAE_TEST_DATA naming the catalog's folder they run too. (The JS tests skip theirs by name.)
if [ -n "${RQVAE_TEST_DATA:-}" ]; then
  echo "== full-catalog checks included: RQVAE_TEST_DATA=$RQVAE_TEST_DATA"
  INCLUDE=(-- --include-ignored)
else
  echo "== RQVAE_TEST_DATA is not set: the full-catalog checks are left out (each is listed as ignored or skipped)"
  INCLUDE=()
fi

# Benches are checked by clippy above; building them for `cargo test` would only add a link.
echo "== cargo test (release: the tests train small models)"
# The Python extension (python/) is left out: it is a cdylib for the interpreter to load, tested
# from Python below, in the wheel users install.
cargo test --release --lib --bins --tests "${FEATURES[@]}" --exclude rqvae-python "${INCLUDE[@]}"

echo "== Python package: maturin wheel, installed into a fresh venv, pytest"
bash tests/python.sh

echo "== npm run build (wasm package)"
npm run build

echo "== JavaScript tests: Node (CPU), Chromium (CPU + WebGPU), npm tarball, demo"
node --test --test-concurrency=1 tests/js/
