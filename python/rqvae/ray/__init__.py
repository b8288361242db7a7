"""ID assignment on a Ray cluster (Ray Data): catalogs past one machine.

The pipeline gives, row for row, the table ``rqvae-train assign`` gives on the same rows:

1. **encode** — Parquet shards are read by N workers (each holds the model once, sent through
   the object store); every row gets its nearest codes and its ranking of last-level codes;
2. **group** — rows (and the existing table's entries) are grouped by their (A, B) prefix,
   whole groups hashed into buckets of about 50,000 rows;
3. **resolve** — each bucket, and in it each group, is resolved alone, deterministically: existing entries first, in
   table order, then new rows in row order. Collision resolution reads and writes nothing
   outside a row's (A, B) prefix (``rqvae::ids::assign::resolve_group``; a test shows that
   group-wise equals one pass), so groups can go to any worker in any order;
4. **write** — entries are written as Parquet shards into a staging folder; only when every
   shard is written are they moved into the output folder, so a failed run leaves no table
   that looks complete.

Row order is explicit: shards are read in file-name order, and row ``r`` (counted across
shards) becomes table row ``existing + r``; items without an ``id`` column are numbered so.
"""

from .pipeline import assign

__all__ = ["assign"]
