#!/usr/bin/env bash
# The Python package (python/): builds its wheel with maturin, installs the wheel into a fresh
# virtual environment and runs its pytest suite there, against the CLI binary that the cargo
# test step built (the package must give that binary's IDs and tables exactly).
# Run by tests/run-all.sh after `cargo test`; alone it needs `cargo build --release -p rqvae-train`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exact versions from PyPI: the build tool, the test runner, the NumPy the tests run with, and
# Ray Data + pyarrow for rqvae.ray (its tests start a local 2-worker cluster).
TEST_PINS=(pytest==9.2.0 numpy==2.4.6 "ray[data]==2.60.0" pyarrow==26.0.1)
PINS=(maturin==1.16.0 pytest==9.2.0 numpy==2.4.6)

# The virtual environments and the wheel live outside the clone, beside the cargo target folder
# (which keeps the wheel's Rust build warm), and the build environment is reused when present.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  target="$CARGO_TARGET_DIR"
  work="${CARGO_TARGET_DIR%/}-python"
else
  target="$PWD/target"
  work="${XDG_CACHE_HOME:-$HOME/.cache}/rqvae-python"
fi
build_venv="$work/build-venv"
test_venv="$work/test-venv"

wanted=$(printf '%s\n' "${PINS[@]}" | sort)
have=$("$build_venv/bin/python" -m pip freeze 2>/dev/null | grep -E '^(maturin|pytest|numpy)==' | sort || true)
if [ "$wanted" != "$have" ]; then
  rm -rf "$build_venv"
  python3 -m venv "$build_venv"
  "$build_venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
fi

rm -rf "$work/wheels"
"$build_venv/bin/maturin" build --release --manifest-path python/Cargo.toml --out "$work/wheels"
wheel=$(ls "$work"/wheels/rqvae-*-abi3-*.whl)

# A fresh environment holds only the wheel and what the tests import, as a user's would.
rm -rf "$test_venv"
python3 -m venv "$test_venv"
"$test_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "${TEST_PINS[@]}" "$wheel"

RQVAE_TRAIN_BIN="$target/release/rqvae-train" \
  "$test_venv/bin/python" -m pytest -p no:cacheprovider python/tests
