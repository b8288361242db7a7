"""The package gives the CLI's results: the same IDs, the same tables, bit for bit."""

import json

import numpy as np

import rqvae
from conftest import DEFAULT_MODEL, SAMPLE


def cli_encode(cli, embeddings, tmp_path):
    out = tmp_path / "ids.npy"
    cli("encode", "--model", DEFAULT_MODEL, "--embeddings", embeddings, "--out", out)
    return np.load(out)


def test_float32_rows_encode_to_the_ids_rqvae_train_encode_gives(model, sample_f32, cli, tmp_path):
    path = tmp_path / "sample.f32.npy"
    np.save(path, sample_f32)
    expected = cli_encode(cli, path, tmp_path)
    ids = model.encode(sample_f32)
    assert ids.dtype == np.uint16 and ids.shape == (3000, model.levels)
    np.testing.assert_array_equal(ids.astype(np.int32), expected)


def test_float16_rows_encode_to_the_ids_rqvae_train_encode_gives_on_the_same_file(
    model, sample_f16, cli, tmp_path
):
    expected = cli_encode(cli, SAMPLE, tmp_path)
    np.testing.assert_array_equal(model.encode(sample_f16).astype(np.int32), expected)


def test_encoding_in_pieces_gives_the_same_ids_as_encoding_at_once(model, sample_f32):
    whole = model.encode(sample_f32)
    parts = np.concatenate([model.encode(sample_f32[i : i + 7]) for i in range(0, 3000, 7)])
    np.testing.assert_array_equal(parts, whole)


def test_a_table_grown_in_two_steps_equals_one_made_at_once_and_rqvae_train_assigns_table(
    model, sample_f16, cli, tmp_path
):
    out = tmp_path / "cli.jsonl"
    cli("assign", "--model", DEFAULT_MODEL, "--embeddings", SAMPLE, "--out", out)

    at_once = rqvae.IdTable.create(model)
    report = at_once.add(model, sample_f16)
    assert report["rows"] == 3000 and report["added"] == 3000 and report["table_items"] == 3000

    in_two = rqvae.IdTable.create(model)
    in_two.add(model, sample_f16[:1234])
    second = in_two.add(model, sample_f16[1234:])
    assert second["added"] == 3000 - 1234

    assert at_once.to_jsonl() == in_two.to_jsonl() == out.read_text()
    assert at_once.ids() == list(range(3000))
    np.testing.assert_array_equal(at_once.codes(), in_two.codes())


def test_a_suffix_table_equals_rqvae_train_assign_no_reassign(model, sample_f16, cli, tmp_path):
    out = tmp_path / "cli.jsonl"
    cli("assign", "--model", DEFAULT_MODEL, "--embeddings", SAMPLE, "--out", out, "--no-reassign")
    table = rqvae.IdTable.create(model, resolution="suffix")
    table.add(model, sample_f16)
    assert table.resolution == "suffix"
    assert table.to_jsonl() == out.read_text()


def test_a_table_rqvae_train_wrote_grows_in_python_as_it_would_with_existing(
    model, sample_f16, cli, tmp_path
):
    first, grown = tmp_path / "first.jsonl", tmp_path / "grown.jsonl"
    head = tmp_path / "head.npy"
    np.save(head, sample_f16[:2000])
    cli("assign", "--model", DEFAULT_MODEL, "--embeddings", head, "--out", first)
    tail = tmp_path / "tail.npy"
    np.save(tail, sample_f16[2000:])
    cli("assign", "--model", DEFAULT_MODEL, "--embeddings", tail, "--existing", first, "--out", grown)

    table = rqvae.IdTable.load(first)
    assert len(table) == 2000
    table.add(model, sample_f16[2000:])
    assert table.to_jsonl() == grown.read_text()


def test_nan_rows_give_the_error_rqvae_train_gives(model, sample_f32, cli, tmp_path):
    x = sample_f32[:10].copy()
    x[4, 17] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, x)
    done = cli("encode", "--model", DEFAULT_MODEL, "--embeddings", path, "--out", tmp_path / "o.npy", check=False)
    assert done.returncode != 0
    try:
        model.encode(x)
    except rqvae.RqvaeError as e:
        message = str(e)
    else:
        raise AssertionError("a NaN row was encoded")
    assert message == "row 4, column 17 is NaN: embeddings must be finite numbers"
    assert message in done.stderr


def test_a_sample_is_the_rows_rqvae_train_train_sample_draws(sample_f16, cli, tmp_path):
    # rqvae-train writes the rows it drew (--sample-out). Python's sample of the same file, its
    # sample of the same rows as an array, and those drawn rows given whole train one model, and
    # it is the model the CLI trained.
    tiny = dict(hidden_dims=[32], latent_dim=8, levels=2, codebook_size=16)
    path, config = tmp_path / "x.npy", tmp_path / "config.json"
    np.save(path, sample_f16)
    config.write_text(json.dumps(tiny))
    run, drawn_path = tmp_path / "run", tmp_path / "drawn.npy"
    cli("train", "--embeddings", path, "--out", run, "--config", config, "--epochs", "1",
        "--batch-size", "256", "--seed", "5", "--sample", "700", "--sample-out", drawn_path)
    drawn = np.load(drawn_path)
    assert drawn.shape == (700, 768)

    settings = dict(seed=5, epochs=1, batch_size=256, config=tiny)
    from_file = rqvae.train(path, sample=700, **settings)
    from_array = rqvae.train(sample_f16, sample=700, **settings)
    whole = rqvae.train(drawn, **settings)
    assert from_file.fingerprint == from_array.fingerprint == whole.fingerprint
    assert rqvae.Model.load(run / "model.safetensors").fingerprint == whole.fingerprint


def test_a_model_that_centres_anisotropic_rows_encodes_and_decodes_as_the_cli_does(
    sample_f32, cli, tmp_path
):
    # The sample shifted as E5-like models place vectors: random pairs at cosine about 0.9.
    u = np.where(np.arange(768) % 2 == 0, 1.0, -1.0).astype(np.float32) / np.sqrt(768)
    moved = sample_f32[:2000] + 2.5 * u
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    rows = tmp_path / "shifted.npy"
    np.save(rows, moved.astype(np.float32))
    run = tmp_path / "run"
    trained = cli("train", "--embeddings", rows, "--out", run, "--recipe", "semantic-ids",
                  "--epochs", "3", "--eval-queries", "100")
    assert "inputs centred on their mean" in trained.stderr
    weights = run / "model.safetensors"
    model = rqvae.Model.load(weights)
    out, recon = tmp_path / "ids.npy", tmp_path / "recon.npy"
    cli("encode", "--model", weights, "--embeddings", rows, "--out", out, "--recon", recon)
    ids = model.encode(moved.astype(np.float32))
    np.testing.assert_array_equal(ids.astype(np.int32), np.load(out))
    np.testing.assert_allclose(model.decode(ids[:100]), np.load(recon)[:100], atol=1e-4)
    transform = model.input_transform
    assert transform["kind"] == "center" and transform["scale"] > 1.0
    np.testing.assert_allclose(transform["mean"], moved.mean(axis=0), atol=1e-6)
    assert rqvae.Model.load(DEFAULT_MODEL).input_transform is None
    # The model's fingerprint covers the transform: the same file, read again, has it too.
    assert rqvae.Model.from_bytes(weights.read_bytes()).fingerprint == model.fingerprint
