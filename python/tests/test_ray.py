"""rqvae.ray on a real local Ray cluster (2 workers): the table equals rqvae-train assign's, row
for row, fresh and grown; a worker killed mid-run changes nothing; bad tables are refused."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rqvae
from conftest import DEFAULT_MODEL

ray = pytest.importorskip("ray")
from rqvae.ray import assign  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def noisy_rows(sample_f16, n, seed):
    """``n`` rows: the sample's rows with a little noise, renormalised (near-duplicates collide)."""
    rng = np.random.default_rng(seed)
    x = sample_f16[np.arange(n) % len(sample_f16)].astype(np.float32)
    x += rng.normal(0, 0.01, x.shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_shards(x, folder, sizes):
    """``x`` as Parquet shards of the given sizes (fixed_size_list<float32> ``embedding``)."""
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        rows = x[start : start + size]
        flat = pa.array(rows.reshape(-1))
        column = pa.FixedSizeListArray.from_arrays(flat, x.shape[1])
        pq.write_table(pa.table({"embedding": column}), folder / f"part-{i:03d}.parquet")
        start += size
    assert start == len(x)
    return folder


def table_text(path):
    return rqvae.IdTable.load(path).to_jsonl()


def test_the_ray_table_equals_rqvae_train_assign_row_for_row_and_grows_keeping_every_line(
    cluster, cli, sample_f16, tmp_path
):
    x = noisy_rows(sample_f16, 6000, seed=1)
    first = write_shards(x[:5000], tmp_path / "in", [2000, 1, 2999])
    more = write_shards(x[5000:], tmp_path / "more", [1000])
    out = tmp_path / "table"
    report = assign(DEFAULT_MODEL, first, out, num_workers=2)
    assert report["table_items"] == 5000
    cli("assign", "--model", DEFAULT_MODEL, "--embeddings", first, "--out", tmp_path / "cli.jsonl")
    expected = table_text(tmp_path / "cli.jsonl")
    assert table_text(out) == expected
    table = rqvae.IdTable.load(out)
    assert table.quality()["moved"] > 0, "the rows must collide for the test to mean something"
    assert (out / "_SUCCESS").exists()
    assert not list(tmp_path.glob(".*staging*")), "the staging folder is removed"

    grown = tmp_path / "grown"
    assign(DEFAULT_MODEL, more, grown, existing=out, num_workers=2)
    cli(
        "assign", "--model", DEFAULT_MODEL, "--embeddings", more,
        "--existing", tmp_path / "cli.jsonl", "--out", tmp_path / "cli2.jsonl",
    )
    grown_text = table_text(grown)
    assert grown_text == table_text(tmp_path / "cli2.jsonl")
    old_lines = expected.splitlines()
    assert grown_text.splitlines()[: len(old_lines)] == old_lines


def test_a_worker_killed_mid_run_is_retried_and_the_table_is_unchanged(
    cluster, sample_f16, tmp_path
):
    x = noisy_rows(sample_f16, 3000, seed=2)
    shards = write_shards(x, tmp_path / "in", [1500, 1500])
    assign(DEFAULT_MODEL, shards, tmp_path / "calm", num_workers=2)
    marker = tmp_path / "crashed"
    assign(DEFAULT_MODEL, shards, tmp_path / "crash", num_workers=2, _crash_once=str(marker))
    assert marker.exists(), "a worker was killed"
    assert table_text(tmp_path / "crash") == table_text(tmp_path / "calm")


def test_a_table_of_another_model_and_ids_already_in_the_table_are_refused(
    cluster, model, sample_f16, tmp_path
):
    x = noisy_rows(sample_f16, 200, seed=3)
    shards = write_shards(x, tmp_path / "in", [200])
    table = tmp_path / "t"
    assign(DEFAULT_MODEL, shards, table, num_workers=2)
    # A shard claiming another model's fingerprint.
    shard = next(table.glob("part-*.parquet"))
    t = pq.read_table(shard)
    meta = dict(t.schema.metadata)
    meta[b"rqvae-id-table"] = meta[b"rqvae-id-table"].replace(
        model.fingerprint.encode(), b"sha256:" + b"0" * 64
    )
    pq.write_table(t.replace_schema_metadata(meta), shard)
    with pytest.raises(rqvae.RqvaeError, match=r"made by model sha256:0+.*but this model is sha256:"):
        assign(DEFAULT_MODEL, shards, tmp_path / "t2", existing=table, num_workers=2)

    # New rows whose ids are already in the table.
    fresh = tmp_path / "fresh"
    assign(DEFAULT_MODEL, shards, fresh, num_workers=2)
    with_ids = tmp_path / "ids"
    with_ids.mkdir()
    flat = pa.FixedSizeListArray.from_arrays(pa.array(x[:5].reshape(-1)), 768)
    pq.write_table(pa.table({"embedding": flat, "id": pa.array([7, 300, 301, 302, 303])}), with_ids / "a.parquet")
    with pytest.raises(rqvae.RqvaeError, match="ids given twice.*7"):
        assign(DEFAULT_MODEL, with_ids, tmp_path / "t3", existing=fresh, num_workers=2)
    assert not (tmp_path / "t3").exists(), "nothing is written for a refused run"


def test_the_command_line_writes_the_table_and_names_bad_input(sample_f16, tmp_path):
    x = noisy_rows(sample_f16, 300, seed=4)
    shards = write_shards(x, tmp_path / "in", [300])
    run = subprocess.run(
        [sys.executable, "-m", "rqvae.ray", "assign", "--model", str(DEFAULT_MODEL),
         "--parquet", str(shards), "--out", str(tmp_path / "out"), "--num-workers", "2"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert len(rqvae.IdTable.load(tmp_path / "out")) == 300
    bad = subprocess.run(
        [sys.executable, "-m", "rqvae.ray", "assign", "--model", str(DEFAULT_MODEL),
         "--parquet", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")],
        capture_output=True, text=True,
    )
    assert bad.returncode == 2 and "missing" in bad.stderr
