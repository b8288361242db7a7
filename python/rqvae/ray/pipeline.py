"""The stages of ``rqvae.ray.assign``: encode shards, group by (A, B), resolve, write."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import Model, RqvaeError
from .._rqvae import encode_ranked, read_embeddings, resolve_group

#: The Parquet key-value metadata that holds a table shard's header (as the Rust writer puts it).
HEADER_KEY = b"rqvae-id-table"
#: Entries per output shard.
SHARD_ROWS = 1_000_000
#: Rows (new and existing) per resolution bucket, roughly.
BUCKET_ROWS = 50_000

_Path = Union[str, "os.PathLike[str]"]


def shard_paths(path: _Path) -> List[Path]:
    """A file, or a folder's ``*.parquet`` files in file-name order (names starting with ``.``
    or ``_`` left out), as ``rqvae-train`` reads them."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or directory")
    if not p.is_dir():
        return [p]
    shards = [
        f
        for f in p.iterdir()
        if f.is_file()
        and not f.name.startswith((".", "_"))
        and f.name.lower().endswith(".parquet")
    ]
    if not shards:
        raise RqvaeError(f"{p}: no .parquet shards in this folder")
    return sorted(shards, key=lambda f: os.fsencode(f.name))


def _header(model: Model, resolution: str) -> Dict[str, Any]:
    return {
        "format": "rqvae-id-table",
        "version": 1,
        "model": model.fingerprint,
        "levels": model.levels,
        "codebook_size": model.codebook_size,
        "resolution": resolution,
    }


def _existing_header(shards: Sequence[Path], model: Model) -> Dict[str, Any]:
    """The header every shard of an existing table holds; refused unless it is this model's."""
    header: Optional[Dict[str, Any]] = None
    for shard in shards:
        try:
            metadata = pq.read_schema(shard).metadata or {}
        except Exception as e:  # pyarrow's errors name no file
            raise RqvaeError(f"{shard}: not a Parquet ID table shard: {e}") from None
        if HEADER_KEY not in metadata:
            raise RqvaeError(
                f"{shard}: no {HEADER_KEY.decode()} header in its metadata; is it an rqvae ID table?"
            )
        found = json.loads(metadata[HEADER_KEY])
        if found.get("model") != model.fingerprint:
            raise RqvaeError(
                f"{shard}: the table shard was made by model {found.get('model')}, but this model "
                f"is {model.fingerprint}: a table only grows with the model that made it"
            )
        if header is not None and found != header:
            raise RqvaeError(f"{shard}: its header {found} differs from the other shards' {header}")
        header = found
    assert header is not None
    return header


def _ids_of(table: pa.Table, first_id: int, rows: int) -> pa.Array:
    if "id" in table.column_names:
        ids = table.column("id").combine_chunks()
        if ids.null_count:
            raise RqvaeError("the id column has nulls")
        if pa.types.is_integer(ids.type):
            return ids.cast(pa.int64())
        if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
            return ids.cast(pa.string())
        raise RqvaeError(f"the id column is {ids.type}; ids are integers or strings")
    return pa.array(np.arange(first_id, first_id + rows, dtype=np.int64))


class _EncodeShards:
    """A worker of the encode stage: the model arrives once, through the object store."""

    def __init__(
        self, model_ref: List[Any], column: Optional[str], first_id: int, buckets: int
    ) -> None:
        import ray

        self.model = Model.from_bytes(ray.get(model_ref[0]))
        self.column = column
        self.first_id = first_id
        self.buckets = buckets

    def __call__(self, batch: Dict[str, np.ndarray]) -> pa.Table:
        out = []
        for path, offset in zip(batch["path"], batch["offset"]):
            path, offset = str(path), int(offset)
            x = read_embeddings(path, self.column)
            nearest, ranking = encode_ranked(self.model, x)
            n = len(x)
            del x
            ids_table = pq.read_table(path, columns=["id"]) if _has_id(path) else pa.table({})
            ids = _ids_of(ids_table, self.first_id + offset, n)
            if len(ids) != n:
                raise RqvaeError(f"{path}: {len(ids)} ids for {n} rows")
            levels = nearest.shape[1]
            k = ranking.shape[1]
            out.append(
                pa.table(
                    {
                        "kind": pa.array(np.ones(n, dtype=np.uint8)),
                        "row": pa.array(np.arange(offset, offset + n, dtype=np.uint64)),
                        "id": ids,
                        "bucket": _bucket(nearest, k, self.buckets),
                        "codes": _fixed(nearest.astype(np.uint32), levels),
                        "ranking": _binary_rows(np.ascontiguousarray(ranking).view(np.uint8), n),
                    }
                )
            )
        return pa.concat_tables(out)


def _binary_rows(values: np.ndarray, n: int) -> pa.BinaryArray:
    """Row ``i`` of the uint8 array ``values`` ``[n, w]`` as the ``i``-th binary value."""
    width = values.shape[1] if values.ndim == 2 else 0
    offsets = np.arange(0, (n + 1) * width, width if width else 1, dtype=np.int32)[: n + 1]
    if not width:
        offsets = np.zeros(n + 1, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(values.tobytes())]
    )


def _rows_of_binary(arr: pa.BinaryArray, k: int) -> np.ndarray:
    """The rankings of ``_binary_rows`` back as uint16 ``[n, k]``."""
    n = len(arr)
    if n == 0:
        return np.zeros((0, k), np.uint16)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if len(data) != n * 2 * k:
        raise RqvaeError(f"rankings of {len(data)} bytes for {n} rows of {k} codes")
    return data.view(np.uint16).reshape(n, k)


def _has_id(path: str) -> bool:
    return "id" in pq.read_schema(path).names


def _fixed(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(values, dtype=np.uint32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)


def _bucket(codes: np.ndarray, k: int, buckets: int) -> pa.Array:
    """Which bucket a row's (A, B) prefix goes to: a whole prefix group always lands in one."""
    prefix = codes[:, 0].astype(np.uint64) * np.uint64(k) + codes[:, 1].astype(np.uint64)
    mixed = (prefix * np.uint64(2654435761)) >> np.uint64(16)  # spreads neighbouring prefixes
    return pa.array((mixed % np.uint64(buckets)).astype(np.int64))


def _existing_rows(table: pa.Table, levels: int, k: int, buckets: int) -> pa.Table:
    """An existing table's entries in the encode stage's shape (kind 0, codes = full ID)."""
    n = table.num_rows
    codes = np.asarray(
        table.column("codes").combine_chunks().flatten().to_numpy(zero_copy_only=False),
        dtype=np.uint32,
    ).reshape(n, levels + 1)
    ids = table.column("id").combine_chunks()
    ids = ids.cast(pa.int64()) if pa.types.is_integer(ids.type) else ids.cast(pa.string())
    return pa.table(
        {
            "kind": pa.array(np.zeros(n, dtype=np.uint8)),
            "row": table.column("row").cast(pa.uint64()),
            "id": ids,
            "bucket": _bucket(codes, k, buckets),
            "codes": _fixed(codes, levels + 1),
            # Existing entries are never moved: they need no ranking.
            "ranking": _binary_rows(np.zeros((n, 0), np.uint8), n),
        }
    )


def _tokens(codes: np.ndarray) -> List[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(f"<{letters[i]}_{c}>" for i, c in enumerate(row)) for row in codes.tolist()]


def _resolve(
    group: pa.Table, levels: int, k: int, resolution: str, first_row: int, crash_once: Optional[str]
) -> pa.Table:
    """One bucket of whole (A, B) groups: existing entries first in table order, then new rows
    in row order (groups do not interact, so their interleaving does not matter)."""
    if crash_once and not os.path.exists(crash_once):
        # Tests only: the first task to get here kills its worker; Ray retries the task.
        crash = crash_once
        Path(crash).write_text("crashed once\n")
        os._exit(1)
    kind = group.column("kind").to_numpy()
    rows = group.column("row").to_numpy()
    order = np.lexsort((rows, kind))
    group = group.take(pa.array(order))
    kind = kind[order]
    n_old = int((kind == 0).sum())
    codes = np.asarray(
        group.column("codes").combine_chunks().flatten().to_numpy(zero_copy_only=False), dtype=np.uint32
    )
    old = codes[: n_old * (levels + 1)].reshape(n_old, levels + 1)
    near = codes[n_old * (levels + 1):].reshape(-1, levels)
    new = group.slice(n_old)
    ranking = _rows_of_binary(new.column("ranking").combine_chunks(), k)
    placed, moved_from = resolve_group(levels, k, resolution, old, near, ranking)
    return pa.table(
        {
            "row": pa.array(new.column("row").to_numpy() + np.uint64(first_row)),
            "id": new.column("id"),
            "codes": _fixed(placed, levels + 1),
            "tokens": pa.array(_tokens(placed), pa.string()),
            "reassigned_from": pa.array(
                np.where(moved_from < 0, 0, moved_from).astype(np.uint32), mask=moved_from < 0
            ),
        }
    )


def _write_shards(batch: pa.Table, staging: str, header: str) -> Dict[str, List[Any]]:
    """Writes one shard under a fresh name; a retried task writes another and the driver only
    takes the names that tasks returned."""
    table = batch.replace_schema_metadata({HEADER_KEY: header.encode()})
    path = os.path.join(staging, f"part-{uuid.uuid4().hex}.parquet")
    pq.write_table(table, path, compression="snappy")
    first = pc.min(table.column("row")).as_py()
    return {"path": [path], "rows": [table.num_rows], "first": [-1 if first is None else int(first)]}


def assign(
    model: _Path,
    parquet: _Path,
    out: _Path,
    *,
    existing: Optional[_Path] = None,
    column: Optional[str] = None,
    resolution: str = "reassign",
    address: Optional[str] = None,
    num_workers: int = 2,
    _crash_once: Optional[str] = None,
) -> Dict[str, Any]:
    """Gives every row of the Parquet embeddings ``parquet`` an ID and writes the table, as
    Parquet shards, into the folder ``out``; see the module's docs. With ``existing`` (a Parquet
    table of the same model) the old entries are kept as they are and the new rows added after
    them. Returns a small report."""
    import ray

    model_bytes = Path(model).read_bytes()
    m = Model.from_bytes(model_bytes)
    levels, k = m.levels, m.codebook_size
    if levels < 2:
        raise RqvaeError("the Ray pipeline groups by (A, B): the model needs at least 2 levels")
    if resolution not in ("reassign", "suffix"):
        raise RqvaeError(f'resolution {resolution!r}: expected "reassign" or "suffix"')
    shards = shard_paths(parquet)
    counts = [pq.ParquetFile(p).metadata.num_rows for p in shards]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rows = int(sum(counts))
    out = Path(out)

    header = _header(m, resolution)
    old_shards: List[Path] = []
    n_old = 0
    if existing is not None:
        old_shards = shard_paths(existing)
        header = _existing_header(old_shards, m)
        if resolution != header["resolution"] and resolution != "reassign":
            raise RqvaeError(
                f"{existing}: the table was made with {header['resolution']} resolution; it keeps its policy"
            )
        resolution = header["resolution"]
        n_old = sum(pq.ParquetFile(p).metadata.num_rows for p in old_shards)

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_workers, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False

    # Whole (A, B) groups are hashed into buckets, each resolved by one call (groups are
    # independent, so a call may hold many): about BUCKET_ROWS rows a bucket.
    buckets = max(1, min(k * k, (n_old + rows) // BUCKET_ROWS))
    model_ref = [ray.put(model_bytes)]
    items = [{"path": str(p), "offset": int(o)} for p, o in zip(shards, offsets)]
    new = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _EncodeShards,
        fn_constructor_kwargs={
            "model_ref": model_ref,
            "column": column,
            "first_id": n_old,
            "buckets": buckets,
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=num_workers),
    )
    everything = new
    if old_shards:
        old = ray.data.read_parquet([str(p) for p in old_shards]).map_batches(
            _existing_rows,
            fn_kwargs={"levels": levels, "k": k, "buckets": buckets},
            batch_format="pyarrow"
        )
        everything = new.union(old)
    everything = everything.materialize()

    _check_ids(everything)

    resolved = everything.groupby("bucket").map_groups(
        _resolve,
        fn_kwargs={
            "levels": levels,
            "k": k,
            "resolution": resolution,
            "first_row": n_old,
            "crash_once": _crash_once,
        },
        batch_format="pyarrow",
    )

    staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        written = resolved.repartition(max(1, -(-rows // SHARD_ROWS))).map_batches(
            _write_shards,
            fn_kwargs={"staging": str(staging), "header": json.dumps(header)},
            batch_size=None,
            batch_format="pyarrow",
        ).take_all()
        total = sum(int(w["rows"]) for w in written)
        if total != rows:
            raise RqvaeError(f"the pipeline wrote {total} entries for {rows} rows")
        _publish(out, staging, sorted(written, key=lambda w: int(w["first"])), old_shards, n_old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"rows": rows, "existing": n_old, "table_items": n_old + rows, "out": str(out)}


def _check_ids(ds: Any) -> None:
    """Every id at most once among the existing entries and the new rows."""
    dup = ds.select_columns(["id"]).groupby("id").count().filter(lambda r: r["count()"] > 1).take(5)
    if dup:
        shown = ", ".join(repr(d["id"]) for d in dup)
        raise RqvaeError(
            f"ids given twice (among the new rows, or already in the table): {shown}; "
            "the Ray pipeline adds new items only"
        )


def _publish(out: Path, staging: Path, written: List[Dict[str, Any]], old: List[Path], n_old: int) -> None:
    """Moves the written shards into ``out`` (with the existing table's shards, unless ``out`` is
    that table's own folder), then writes ``_SUCCESS``: until then ``out`` holds no new shard."""
    out.mkdir(parents=True, exist_ok=True)
    same = bool(old) and old[0].parent.resolve() == out.resolve()
    if old and not same:
        for p in old:
            target = out / p.name
            try:
                os.link(p, target)
            except OSError:
                shutil.copy2(p, target)
    tag = uuid.uuid4().hex[:8]
    for i, w in enumerate(written):
        os.replace(w["path"], out / f"part-{n_old:012d}-{tag}-{i:05d}.parquet")
    (out / "_SUCCESS").write_text("")
