#!/usr/bin/env bash
# Every check of the project, as the README's test command runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

# The CUDA feature is part of every build so that it cannot rot on machines without a GPU:
# the CUDA libraries are loaded at run time, so it compiles and links here.
FEATURES=(--workspace --all-targets --features rqvae-train/cuda)

echo "== cargo clippy -D warnings"
cargo clippy "${FEATURES[@]}" -- -D warnings

echo "== cargo test (release: the tests train small models)"
cargo test --release "${FEATURES[@]}"
