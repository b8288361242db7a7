"""PyTorch checkpoints through `rqvae-train import`: does the imported model give PyTorch's IDs on
every row, and how long does importing take. Needs torch, numpy (and vector-quantize-pytorch for
--arch residual-vq); the project's side needs only the CLI binary.

    # a checkpoint of the reference layout (enc/dec/books), its codebooks set from the data's
    # residuals; --generate makes random unit vectors of the reference model's sizes
    python benches/pytorch_import.py make --arch reference --generate 63319 1024 --out /tmp/ref
    # the user's MLP + vector-quantize-pytorch's ResidualVQ, trained a few epochs on a catalog
    python benches/pytorch_import.py make --arch residual-vq --embeddings items.npy --epochs 20 --out /tmp/rvq
    # import, encode, compare (any checkpoint with its PyTorch codes as an [N, levels] .npy)
    python benches/pytorch_import.py check --trainer target/release/rqvae-train \
        --pth /tmp/ref/model.pth --codes /tmp/ref/codes.npy --embeddings /tmp/ref/inputs.npy

`check` prints one JSON line: rows, rows equal, the differing rows with their near-tie margins,
import and encode seconds. The Node side: benches/pytorch-import-node.mjs.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def make(a):
    import torch
    from torch import nn

    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    if a.generate:
        n, d = a.generate
        x = torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)
        inputs = os.path.join(a.out, "inputs.npy")
        np.save(inputs, x.numpy().astype(np.float32))
    else:
        x = torch.from_numpy(np.load(a.embeddings).astype(np.float32))
        inputs = a.embeddings
    n, d = x.shape
    dims = [d, 512, 256, 128, 32]

    def mlp(widths):
        # The reference recipe's initialisation (He-normal weights, zero biases): PyTorch's
        # default gives untrained latents that are nearly all the bias, so every row would tie.
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            nn.init.kaiming_normal_(layers[-1].weight, nonlinearity="relu")
            nn.init.zeros_(layers[-1].bias)
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def nearest(r, c):
        return ((c * c).sum(1)[None] - 2 * r @ c.t()).argmin(1)

    def margins(z, books):
        """The ID contract's margin of each row: the smallest over the levels of (second-best
        score - best score) / (|z| + R)^2, R the level's largest code norm."""
        out = torch.full((z.shape[0],), float("inf"))
        r, zn = z, z.norm(dim=1)
        for c in books:
            s = (c * c).sum(1)[None] - 2 * r @ c.t()
            two = s.topk(2, dim=1, largest=False).values
            scale = (zn + c.norm(dim=1).max()) ** 2
            out = torch.minimum(out, (two[:, 1] - two[:, 0]) / scale)
            r = r - c[s.argmin(1)]
        return out

    if a.arch == "reference":
        class Reference(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = mlp(dims), mlp(dims[::-1])
                self.books = nn.ParameterList([nn.Parameter(torch.zeros(256, 32)) for _ in range(3)])

        model = Reference().eval()
        with torch.no_grad():
            r = model.enc(x[torch.randperm(n, generator=gen)[:4096]])
            for c in model.books:  # codebooks from the residuals, as a k-means start would
                c.copy_(r[torch.randperm(r.shape[0], generator=gen)[:256]])
                r = r - c[nearest(r, c)]
            codes, r = [], model.enc(x)
            for c in model.books:
                i = nearest(r, c)
                codes.append(i)
                r = r - c[i]
            codes = torch.stack(codes, 1)
            margin = margins(model.enc(x), list(model.books))
        config = {"input_dim": d, "hidden_dims": dims[1:-1], "latent_dim": 32, "levels": 3,
                  "codebook_size": 256}
        torch.save({"config": config, "model_state_dict": model.state_dict()},
                   os.path.join(a.out, "model.pth"))
    else:
        from vector_quantize_pytorch import ResidualVQ

        class WithResidualVQ(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder, self.decoder = mlp(dims), mlp(dims[::-1])
                self.rvq = ResidualVQ(dim=32, num_quantizers=3, codebook_size=256,
                                      kmeans_init=True, kmeans_iters=10)

        model = WithResidualVQ()
        opt = torch.optim.Adam(model.parameters(), lr=3e-4)
        for epoch in range(a.epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, 4096):
                xb = x[perm[s:s + 4096]]
                zq, _, commit = model.rvq(model.encoder(xb)[None])
                loss = ((model.decoder(zq[0]) - xb) ** 2).sum(1).mean() + commit.sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            print(f"epoch {epoch}: loss {loss.item():.4f}", file=sys.stderr)
        model.eval()
        with torch.no_grad():
            if a.epochs == 0:  # k-means start only
                model.rvq.train()
                model.rvq(model.encoder(x[:4096])[None])
                model.rvq.eval()
            codes = torch.cat([model.rvq(model.encoder(x[s:s + 8192])[None])[1][0]
                               for s in range(0, n, 8192)])
            books = [layer._codebook.embed[0] for layer in model.rvq.layers]
            margin = torch.cat([margins(model.encoder(x[s:s + 8192]), books)
                                for s in range(0, n, 8192)])
        torch.save(model.state_dict(), os.path.join(a.out, "model.pth"))
    np.save(os.path.join(a.out, "codes.npy"), codes.numpy().astype(np.int64))
    np.save(os.path.join(a.out, "margins.npy"), margin.numpy().astype(np.float32))
    print(json.dumps({"out": a.out, "rows": n, "dim": d, "inputs": inputs,
                      "torch": torch.__version__}))


def check(a):
    out = os.path.splitext(a.pth)[0] + ".imported.safetensors"
    t0 = time.perf_counter()
    subprocess.run([a.trainer, "import", "--pth", a.pth, "--out", out, *a.import_args],
                   check=True, stdout=subprocess.DEVNULL)
    import_s = time.perf_counter() - t0
    ids = os.path.splitext(a.pth)[0] + ".ids.npy"
    t0 = time.perf_counter()
    subprocess.run([a.trainer, "encode", "--model", out, "--embeddings", a.embeddings,
                    "--out", ids], check=True, stdout=subprocess.DEVNULL)
    encode_s = time.perf_counter() - t0
    ours = np.load(ids).astype(np.int64)
    torch_codes = np.load(a.codes).astype(np.int64)
    differ = np.nonzero((ours != torch_codes).any(1))[0]
    report = {"rows": int(len(ours)), "equal": int(len(ours) - len(differ)),
              "differ": differ[:20].tolist(), "import_s": round(import_s, 3),
              "encode_s": round(encode_s, 3), "model": out}
    margins = os.path.join(os.path.dirname(a.codes), "margins.npy")
    if os.path.exists(margins):
        # The contract lets rows within TIE_MARGIN (1e-4) of a tie differ between backends.
        m = np.load(margins)
        report["near_ties"] = int((m <= 1e-4).sum())
        report["differ_outside_margin"] = int((m[differ] > 1e-4).sum())
        report["largest_differing_margin"] = float(m[differ].max()) if len(differ) else None
    if len(differ):
        report["differing"] = [{"row": int(r), "ours": ours[r].tolist(),
                                "torch": torch_codes[r].tolist()} for r in differ[:5]]
    print(json.dumps(report))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--arch", choices=["reference", "residual-vq"], required=True)
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--embeddings")
    src.add_argument("--generate", type=int, nargs=2, metavar=("N", "D"))
    m.add_argument("--epochs", type=int, default=0)
    m.add_argument("--seed", type=int, default=42)
    m.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--trainer", required=True)
    c.add_argument("--pth", required=True)
    c.add_argument("--codes", required=True)
    c.add_argument("--embeddings", required=True)
    c.add_argument("--import-args", nargs=argparse.REMAINDER, default=[])
    a = ap.parse_args()
    make(a) if a.cmd == "make" else check(a)


if __name__ == "__main__":
    main()
