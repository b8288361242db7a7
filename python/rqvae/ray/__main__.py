"""``python -m rqvae.ray assign --model M --parquet IN_DIR --out OUT_DIR [--existing TABLE_DIR]
[--address ADDR] [--num-workers N]``: the ID table of Parquet embeddings, on a Ray cluster (a
local one when no address is given)."""

from __future__ import annotations

import argparse
import json
import sys

from .. import RqvaeError
from .pipeline import assign


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rqvae.ray", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="give every row of Parquet embeddings an ID (Parquet table shards)")
    a.add_argument("--model", required=True, help="rqvae weights (.safetensors)")
    a.add_argument("--parquet", required=True, help="a .parquet file or a folder of shards")
    a.add_argument("--out", required=True, help="the folder the table's shards are written to")
    a.add_argument("--existing", help="a Parquet ID table (folder or file) to grow: its entries are kept")
    a.add_argument("--column", help="the embeddings column (default: embedding, else the only list of floats)")
    a.add_argument("--no-reassign", action="store_true", help="resolve collisions with the disambiguation code only")
    a.add_argument("--address", help="a Ray cluster's address (default: start a local one)")
    a.add_argument("--num-workers", type=int, default=2, help="encode workers (and CPUs of a local cluster)")
    args = parser.parse_args(argv)
    try:
        report = assign(
            args.model,
            args.parquet,
            args.out,
            existing=args.existing,
            column=args.column,
            resolution="suffix" if args.no_reassign else "reassign",
            address=args.address,
            num_workers=args.num_workers,
        )
    except (RqvaeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
