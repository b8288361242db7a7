"""rqvae.ray against rqvae-train assign on the same generated Parquet rows, in one run on one
machine: identical tables, wall time of each, peak memory of the CLI and of each Ray worker.

    python benches/ray_assign.py --rows 200000 --more 20000 --workers 2 --work /var/tmp/ray-bench

Needs the rqvae wheel with its ``ray`` extra in the running Python, and the CLI binary
(RQVAE_TRAIN_BIN, else $CARGO_TARGET_DIR/release/rqvae-train). The rows are the shipped sample's
rows cycled, with gaussian noise, renormalised, as float16 ``fixed_size_list`` shards.
"""

import argparse
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import rqvae
import rqvae.ray

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "www" / "models" / "default.safetensors"
SAMPLE = ROOT / "www" / "sample" / "games-3000.f16.npy"


def generate(folder, rows, first, shard_rows=100_000, seed=7):
    folder.mkdir(parents=True)
    base = np.load(SAMPLE).astype(np.float32)
    rng = np.random.default_rng(seed + first)
    for i, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        x = base[(np.arange(first + start, first + start + n)) % len(base)]
        x = x + rng.normal(0, 0.02, x.shape).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        flat = pa.array(x.astype(np.float16).reshape(-1))
        column = pa.FixedSizeListArray.from_arrays(flat, x.shape[1])
        pq.write_table(pa.table({"embedding": column}), folder / f"part-{i:05d}.parquet")


def cli_binary():
    named = os.environ.get("RQVAE_TRAIN_BIN")
    if named:
        return named
    return str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "rqvae-train")


def run_cli(*args):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", cli_binary(), *map(str, args)], capture_output=True, text=True, check=True)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return time.perf_counter() - t, peak / 1024


class WorkerPeaks(threading.Thread):
    """Polls the RSS of every Ray worker process (``ray::`` in its command line)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks = {}
        self.stop = False

    def run(self):
        while not self.stop:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if not cmd.startswith(b"ray::"):
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss)
            time.sleep(0.2)


def run_ray(*args, **kwargs):
    watch = WorkerPeaks()
    watch.start()
    t = time.perf_counter()
    rqvae.ray.assign(*args, **kwargs)
    seconds = time.perf_counter() - t
    watch.stop = True
    watch.join()
    return seconds, sorted(watch.peaks.values(), reverse=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--more", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default="/var/tmp/ray-bench")
    a = ap.parse_args()
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    generate(work / "in", a.rows, 0)
    generate(work / "more", a.more, a.rows)
    import ray

    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False)
    print(f"rows {a.rows} + {a.more}, {a.workers} local workers, cpu: {cpu_name()}")
    s, peak = run_cli("assign", "--model", MODEL, "--embeddings", work / "in", "--out", work / "cli.jsonl")
    print(f"rqvae-train assign: {s:.1f} s, peak {peak:.0f} MB")
    s, peaks = run_ray(MODEL, work / "in", work / "ray", num_workers=a.workers)
    print(f"rqvae.ray assign:   {s:.1f} s, worker peaks (MB): {', '.join(f'{p:.0f}' for p in peaks[:6])}")
    same = rqvae.IdTable.load(work / "ray").to_jsonl() == rqvae.IdTable.load(work / "cli.jsonl").to_jsonl()
    print(f"identical tables: {same}")
    s, peak = run_cli("assign", "--model", MODEL, "--embeddings", work / "more", "--existing", work / "cli.jsonl", "--out", work / "cli2.jsonl")
    print(f"rqvae-train assign --existing: {s:.1f} s, peak {peak:.0f} MB")
    s, peaks = run_ray(MODEL, work / "more", work / "ray2", existing=work / "ray", num_workers=a.workers)
    print(f"rqvae.ray assign --existing:   {s:.1f} s, worker peaks (MB): {', '.join(f'{p:.0f}' for p in peaks[:6])}")
    old = rqvae.IdTable.load(work / "cli.jsonl").to_jsonl().splitlines()
    grown = rqvae.IdTable.load(work / "ray2").to_jsonl()
    print(f"identical grown tables: {grown == rqvae.IdTable.load(work / 'cli2.jsonl').to_jsonl()}; "
          f"every old line kept: {grown.splitlines()[: len(old)] == old}")


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
