"""The Python package against the Rust it calls (docs/python.md, "Measured").

Checks that `Model.encode` gives `rqvae-train encode`'s IDs on the same 16,384 rows, then times
`Model.encode` on 1 row and on 16,384 rows against the same canonical encode timed in Rust with
no Python (`examples/encode_timing.rs`), and prints the per-call difference: the package's
overhead (argument checks, the finiteness scan, the GIL release, the uint16 array).

    python benches/python_overhead.py RQVAE_TRAIN ENCODE_TIMING [REPEATS]

with the `rqvae` wheel installed, RQVAE_TRAIN the CLI binary and ENCODE_TIMING the example's
binary (`cargo build --release --example encode_timing`). Run from the repository root.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rqvae

MODEL = Path("www/models/default.safetensors")
SAMPLE = Path("www/sample/games-3000.f16.npy")


def python_seconds(model, x, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(x)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main():
    cli, timing = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    model = rqvae.Model.load(MODEL)
    sample = np.load(SAMPLE).astype(np.float32)
    # 16,384 distinct rows: the sample's rows, repeated, each moved by a little noise.
    rng = np.random.default_rng(0)
    rows = np.tile(sample, (6, 1))[:16384]
    rows = (rows + rng.normal(0, 0.01, rows.shape)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "rows.npy", rows)
        np.save(tmp / "one.npy", rows[:1])
        subprocess.run(
            [cli, "encode", "--model", MODEL, "--embeddings", tmp / "rows.npy", "--out", tmp / "ids.npy"],
            check=True, capture_output=True,
        )
        same = (model.encode(rows).astype(np.int32) == np.load(tmp / "ids.npy")).all(axis=1)
        print(f"IDs equal to rqvae-train encode: {same.sum()} of {len(same)} rows")
        for name, x, n in (("1 row", rows[:1], repeats * 50), ("16,384 rows", rows, repeats)):
            path = tmp / ("one.npy" if len(x) == 1 else "rows.npy")
            rust = json.loads(subprocess.run([timing, MODEL, path, str(n)], check=True, capture_output=True, text=True).stdout)
            py_median, py_min = python_seconds(model, x, n)
            print(
                f"{name}: Model.encode median {py_median * 1e6:.1f} µs (min {py_min * 1e6:.1f}), "
                f"Rust core median {rust['median_s'] * 1e6:.1f} µs (min {rust['min_s'] * 1e6:.1f}), "
                f"overhead per call {(py_median - rust['median_s']) * 1e6:.1f} µs "
                f"({100 * (py_median / rust['median_s'] - 1):.1f} %), {n} calls each"
            )


if __name__ == "__main__":
    main()
