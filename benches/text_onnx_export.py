#!/usr/bin/env python3
"""Exports a sentence-transformers directory's BERT body to ONNX for the peer of
benches/embed-vs-ort.mjs: inputs input_ids, attention_mask, token_type_ids (int64 [batch, seq]),
output last_hidden_state (float32 [batch, seq, hidden]); pooling is done in JavaScript, as the
package does it. Checks the export against PyTorch on padded batches.

    python3 benches/text_onnx_export.py models/all-MiniLM-L6-v2 minilm.onnx
Needs torch, sentence-transformers, onnx and onnxruntime (pip).
"""
import sys

import numpy as np
import onnxruntime
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel

model_dir, out = sys.argv[1], sys.argv[2]
# The eager attention exports with dynamic shapes; the default one specialises to the trace.
bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()


class Body(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


ids = torch.tensor([[101, 2023, 2003, 1037, 2208, 102], [101, 2023, 102, 0, 0, 0]])
mask = (ids > 0).long()
types = torch.zeros_like(ids)
axes = {0: "batch", 1: "seq"}
torch.onnx.export(Body(bert), (ids, mask, types), out,
                  input_names=["input_ids", "attention_mask", "token_type_ids"],
                  output_names=["last_hidden_state"],
                  dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                "last_hidden_state": {0: "batch", 1: "seq"}},
                  opset_version=17, dynamo=False)

# The check: the export, mean-pooled and normalised, against sentence-transformers' own vectors
# of texts of different lengths in one padded batch.
texts = ["Super Mario Galaxy", "The Legend of Zelda: Breath of the Wild - Nintendo Switch", "Halo 3"]
st = SentenceTransformer(model_dir, device="cpu")
want = st.encode(texts, convert_to_numpy=True)
batch = st.tokenize(texts)
feed = {k: batch[k].numpy().astype(np.int64) for k in ["input_ids", "attention_mask", "token_type_ids"]}
hidden = onnxruntime.InferenceSession(out).run(None, feed)[0]
m = feed["attention_mask"][..., None]
got = (hidden * m).sum(1) / m.sum(1)
got /= np.linalg.norm(got, axis=1, keepdims=True)
cos = (got * want).sum(1)
print(f"exported {out}; cosine to sentence-transformers' vectors: min {cos.min():.8f}")
