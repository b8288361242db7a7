#!/usr/bin/env python3
"""The peer of benches/embed-vs-sentence-transformers.sh: sentence-transformers (PyTorch eager,
CPU) embedding the titles of an items file, timed after one warm-up batch, as `rqvae-train embed`
is (model loading excluded, tokenisation and batching included). Prints one JSON line.

    python3 benches/text_peer.py MODEL_DIR ITEMS.jsonl THREADS [OUT.npy [TOKENS.jsonl]]

TOKENS.jsonl gets each title's token ids (one JSON array a line) from sentence-transformers' own
tokenizer, the reference for benches/text-parity.mjs --reference-tokens.
"""
import json
import sys
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

model_dir, items, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.argv[4] if len(sys.argv) > 4 else None
tokens_out = sys.argv[5] if len(sys.argv) > 5 else None
torch.set_num_threads(threads)
titles = [json.loads(line)["title"] for line in open(items, encoding="utf-8") if line.strip()]
model = SentenceTransformer(model_dir, device="cpu")
model.encode(titles[:64], batch_size=64)
start = time.perf_counter()
vectors = model.encode(titles, batch_size=64, convert_to_numpy=True)
seconds = time.perf_counter() - start
if out:
    np.save(out, vectors.astype(np.float32))
if tokens_out:
    # As encode() tokenises: the model's tokenizer, cut at max_seq_length, no padding.
    ids = model.tokenizer(titles, truncation=True, max_length=model.max_seq_length)["input_ids"]
    with open(tokens_out, "w", encoding="utf-8") as f:
        for row in ids:
            f.write(json.dumps(row) + "\n")
print(json.dumps({"items": len(titles), "seconds": seconds, "items_per_s": len(titles) / seconds,
                  "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}))
