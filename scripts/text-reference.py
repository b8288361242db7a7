#!/usr/bin/env python3
"""Writes tests/fixtures/minilm-reference.json: what Hugging Face `tokenizers` and
sentence-transformers (PyTorch) give for a set of texts with all-MiniLM-L6-v2, so that the tests
check the project's tokenizer and encoder against them without PyTorch.

The texts: the first 40 titles of the shipped sample, and edge cases (accents, CJK, emoji,
control characters, a 5,000-word title that must be truncated, an empty title, ...).

    python3 -m venv venv && venv/bin/pip install torch sentence-transformers tokenizers numpy
    HF_HUB_OFFLINE=1 venv/bin/python scripts/text-reference.py MODEL_DIR
MODEL_DIR: the sentence-transformers directory (scripts/setup.sh extracts it to
models/all-MiniLM-L6-v2).
"""
import base64
import json
import sys
from pathlib import Path

import numpy as np
import sentence_transformers
import tokenizers
import torch
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
model_dir = Path(sys.argv[1])

titles = [json.loads(l)["title"] for l in open(ROOT / "www/sample/games-3000.jsonl")][:40]
long_title = " ".join((titles[0] + " ") * 400).split()[:5000]
edge = [
    "Pokémon Édition Spéciale", "Crème brûlée", "ÅNGSTRÖM naïve façade",
    "ファイナルファンタジー", "塞尔达传说 旷野之息", "젤다의 전설", "日本語とEnglishの混在",
    "🎮 Gamer Pack 🔥", "👨‍👩‍👧 family emoji", "Tab\there", "NUL\u0000byte", "bell\u0007",
    "zero\u200bwidth", "\u00adsoft hyphen", "line\r\nbreak", "no\u00a0break space",
    "ideographic\u3000space", "replacement \ufffd char", "e\u0301 combining",
    "Half-Life 2: Episode One (PC)", "CALL OF DUTY®: BLACK OPS™", "Tom Clancy's Splinter Cell",
    "1,000,000 4K 60fps 1080p", "الأسطورة العربية", "עברית", "ภาษาไทย", "हिन्दी खेल",
    "x" * 300, "a-b_c.d/e\\f", "\"quoted\" 'single'", " leading and trailing ",
    " ".join(long_title), "",
]
texts = titles + edge

model = SentenceTransformer(str(model_dir), device="cpu")
tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
tok.no_padding()
tok.enable_truncation(model.max_seq_length)
ids = [e.ids for e in tok.encode_batch(texts)]
vectors = model.encode(texts, batch_size=16, convert_to_numpy=True).astype("<f4")

out = {
    "model": "all-MiniLM-L6-v2",
    "max_seq_length": model.max_seq_length,
    "made_with": {
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
    },
    "dim": int(vectors.shape[1]),
    "texts": texts,
    "token_ids": ids,
    # float32 little-endian, row-major [texts, dim], base64
    "embeddings_f32_base64": base64.b64encode(vectors.tobytes()).decode(),
}
path = ROOT / "tests/fixtures/minilm-reference.json"
path.write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n")
print(f"wrote {path}: {len(texts)} texts, longest {max(map(len, ids))} tokens")
