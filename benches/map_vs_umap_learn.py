"""umap-learn, the reference UMAP, on what the demo's map lays out, for docs/demo.md's figures:
how many of each item's 10 nearest it keeps (300 items of the sample, against the latents and
the 768-d embeddings; then on the embeddings themselves), and its time on 100,000 latents.

    node benches/map-latents.mjs DIR && python benches/map_vs_umap_learn.py DIR

Needs numpy and umap-learn (0.5.12 measured). The map's own figures come from
`cargo test --release --test integration map:: -- --nocapture`.
"""

import sys
import time
from pathlib import Path

import numpy as np
import umap

folder = Path(sys.argv[1])
x = np.load(Path(__file__).parent.parent / "www/sample/games-3000.f16.npy").astype(np.float32)
latents = np.fromfile(folder / "sample.latents.f32", dtype=np.float32).reshape(len(x), -1)
queries = [i * len(x) // 300 for i in range(300)]


def nearest(data, q, k=10):
    d = ((data - data[q]) ** 2).sum(1)
    d[q] = np.inf
    return set(np.argsort(d, kind="stable")[:k])


def kept(data, positions):
    return np.mean([len(nearest(data, q) & nearest(positions, q)) / 10 for q in queries])


on_latents = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=42).fit_transform(latents)
print(f"umap-learn on the sample's latents: keeps {kept(latents, on_latents):.3f} of the latents' 10 nearest, "
      f"{kept(x, on_latents):.3f} of the embeddings'")
on_x = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=42).fit_transform(x)
print(f"umap-learn on the sample's embeddings: keeps {kept(x, on_x):.3f} of their 10 nearest")
print(f"the latents' own 10 nearest share {np.mean([len(nearest(x, q) & nearest(latents, q)) / 10 for q in queries]):.3f} with the embeddings'")

big = np.fromfile(folder / "noisy-100000.latents.f32", dtype=np.float32).reshape(100_000, -1)
umap.UMAP(n_neighbors=15, n_epochs=10).fit_transform(big[:2000])  # numba compiles here, not below
start = time.time()
umap.UMAP(n_neighbors=15, min_dist=0.1).fit_transform(big)
print(f"umap-learn on 100,000 latents: {time.time() - start:.1f} s")
