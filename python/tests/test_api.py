"""The Python API: models, decoding, tables on disk, training, and the errors bad input gets."""

import json
import threading

import numpy as np
import pytest

import rqvae
from conftest import DEFAULT_MODEL, ROOT

TINY = dict(hidden_dims=[32], latent_dim=8, levels=2, codebook_size=16)


def test_a_model_reports_its_sizes_and_fingerprint(model):
    assert (model.input_dim, model.levels, model.codebook_size) == (768, 3, 256)
    assert model.fingerprint.startswith("sha256:") and model.has_decoder
    assert model.config["hidden_dims"] == [512, 256, 128]


def test_a_model_read_from_bytes_is_the_model_read_from_the_file(model, sample_f32):
    again = rqvae.Model.from_bytes(DEFAULT_MODEL.read_bytes())
    assert again.fingerprint == model.fingerprint
    np.testing.assert_array_equal(again.encode(sample_f32[:50]), model.encode(sample_f32[:50]))


def test_a_saved_model_loads_with_the_same_fingerprint_and_ids(model, sample_f32, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    again = rqvae.Model.load(path)
    assert again.fingerprint == model.fingerprint
    np.testing.assert_array_equal(again.encode(sample_f32[:50]), model.encode(sample_f32[:50]))


def test_decoding_gives_float32_rows_close_to_the_inputs(model, sample_f32):
    x = sample_f32[:200]
    recon = model.decode(model.encode(x))
    assert recon.dtype == np.float32 and recon.shape == (200, 768)
    assert np.isfinite(recon).all()
    cosine = (recon * x).sum(1) / np.linalg.norm(recon, axis=1) / np.linalg.norm(x, axis=1)
    assert cosine.mean() > 0.7
    # Any integer dtype is accepted.
    np.testing.assert_array_equal(model.decode(model.encode(x).astype(np.int64)), recon)


def test_encoding_no_rows_gives_an_empty_array(model):
    ids = model.encode(np.zeros((0, 768), np.float32))
    assert ids.shape == (0, 3) and ids.dtype == np.uint16


def test_a_saved_table_loads_back_equal(model, sample_f16, tmp_path):
    table = rqvae.IdTable.create(model)
    table.add(model, sample_f16[:300], ids=[f"item-{i}" for i in range(300)])
    table.add(model, sample_f16[300:400], ids=list(range(1000, 1100)))
    path = tmp_path / "t.jsonl"
    table.save(path)
    again = rqvae.IdTable.load(path)
    assert len(again) == 400 and again.fingerprint == model.fingerprint
    assert again.ids() == [f"item-{i}" for i in range(300)] + list(range(1000, 1100))
    codes = again.codes()
    assert codes.dtype == np.uint32 and codes.shape == (400, 4)
    np.testing.assert_array_equal(codes, table.codes())
    np.testing.assert_array_equal(codes[:, :3][:300] >= 0, True)
    assert again.quality()["items"] == 400


def test_adding_items_again_keeps_their_ids_and_reports_them_kept(model, sample_f16):
    table = rqvae.IdTable.create(model)
    table.add(model, sample_f16[:100])
    before = table.codes()
    report = table.add(model, sample_f16[:100], ids=list(range(100)))
    assert report["kept"] == 100 and report["added"] == 0
    np.testing.assert_array_equal(table.codes(), before)


def test_ids_may_be_a_numpy_integer_array_and_equal_the_same_ints_as_a_list(model, sample_f16):
    from_array = rqvae.IdTable.create(model)
    from_array.add(model, sample_f16[:50], ids=np.arange(500, 550))
    from_list = rqvae.IdTable.create(model)
    from_list.add(model, sample_f16[:50], ids=list(range(500, 550)))
    assert from_array.ids() == list(range(500, 550))
    assert from_array.to_jsonl() == from_list.to_jsonl()


def test_a_table_refuses_a_model_other_than_the_one_that_made_it(model, sample_f32):
    other = rqvae.train(sample_f32[:512], epochs=1, batch_size=256, config=dict(TINY, levels=3, codebook_size=256))
    table = rqvae.IdTable.create(model)
    with pytest.raises(rqvae.RqvaeError, match="a table only grows with the model that made it"):
        table.add(other, sample_f32[:10])


def test_a_table_saved_as_parquet_loads_back_equal_and_names_its_model(model, sample_f32, tmp_path):
    table = rqvae.IdTable.create(model)
    table.add(model, sample_f32[:500], ids=[f"sku-{i}" for i in range(500)])
    table.save(tmp_path / "t.parquet")
    again = rqvae.IdTable.load(tmp_path / "t.parquet")
    assert again.ids() == table.ids()
    assert np.array_equal(again.codes(), table.codes())
    assert again.to_jsonl() == table.to_jsonl()
    assert again.fingerprint == model.fingerprint
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(rqvae.RqvaeError, match="bad.parquet"):
        rqvae.IdTable.load(tmp_path / "bad.parquet")


def test_training_a_tiny_recipe_from_numpy_gives_a_model_that_encodes(sample_f16, tmp_path):
    trained = rqvae.train(sample_f16[:1000], "reference", seed=7, epochs=2, batch_size=256, config=TINY)
    assert (trained.levels, trained.codebook_size, trained.input_dim) == (2, 16, 768)
    ids = trained.encode(sample_f16[:100])
    assert ids.shape == (100, 2) and int(ids.max()) < 16
    # The same seed gives the same model; a .npy path trains as the array does.
    path = tmp_path / "x.npy"
    np.save(path, sample_f16[:1000])
    again = rqvae.train(path, "reference", seed=7, epochs=2, batch_size=256, config=TINY)
    assert again.fingerprint == trained.fingerprint


def test_a_sample_of_zero_rows_or_a_column_that_names_nothing_is_refused(sample_f32, tmp_path):
    with pytest.raises(ValueError, match="sample needs at least 1 row, found 0"):
        rqvae.train(sample_f32[:512], sample=0, config=TINY)
    with pytest.raises(ValueError, match='column "vec" names a Parquet column, but x is an array'):
        rqvae.train(sample_f32[:512], column="vec", config=TINY)
    path = tmp_path / "x.npy"
    np.save(path, sample_f32[:512])
    with pytest.raises(rqvae.RqvaeError, match=r'column "vec" names a Parquet column, but .*x\.npy is read as \.npy'):
        rqvae.train(path, sample=100, column="vec", config=TINY)
    with pytest.raises(rqvae.RqvaeError, match=r"missing\.npy: cannot read: No such file"):
        rqvae.train(tmp_path / "missing.npy", sample=100, config=TINY)


def test_fine_tuning_starts_from_the_given_model(sample_f32):
    # The fine-tuning recipes weigh three levels.
    start = rqvae.train(sample_f32[:512], epochs=1, batch_size=256, config=dict(TINY, levels=3))
    tuned = rqvae.train(sample_f32[:512], "collision-fine-tune", epochs=1, batch_size=256, init_from=start)
    assert tuned.config == start.config and tuned.fingerprint != start.fingerprint


def test_a_recipe_may_be_a_dict_of_training_settings(sample_f32):
    m = rqvae.train(sample_f32[:512], {"epochs": 1, "batch_size": 256}, config=TINY)
    assert m.levels == 2


def test_an_unknown_recipe_or_a_fine_tune_without_a_model_is_refused(sample_f32):
    with pytest.raises(ValueError, match="the recipes are reference, semantic-ids"):
        rqvae.train(sample_f32[:512], "fast")
    with pytest.raises(ValueError, match="init_from"):
        rqvae.train(sample_f32[:512], "balanced-fine-tune")
    assert rqvae.RECIPES == ("reference", "semantic-ids", "collision-fine-tune", "balanced-fine-tune")


def test_a_wrong_dtype_is_a_type_error_naming_it_and_the_accepted_ones(model, sample_f32):
    with pytest.raises(TypeError, match="x has dtype float64; accepted: float32, float16"):
        model.encode(sample_f32.astype(np.float64))
    with pytest.raises(TypeError, match="found list"):
        model.encode(sample_f32[:2].tolist())
    with pytest.raises(TypeError, match="codes has dtype float32"):
        model.decode(np.zeros((1, 3), np.float32))
    with pytest.raises(TypeError, match="ids must be int or str, found float"):
        rqvae.IdTable.create(model).add(model, sample_f32[:1], ids=[1.5])


def test_a_wrong_width_or_shape_is_a_value_error_naming_expected_and_found(model, sample_f32):
    with pytest.raises(ValueError, match="embedding dimension is 767 but the model expects 768"):
        model.encode(np.ascontiguousarray(sample_f32[:, :767]))
    with pytest.raises(ValueError, match=r"x must be 2-D \[rows, 768\], found shape \[768\]"):
        model.encode(sample_f32[0])
    with pytest.raises(ValueError, match="codes have 2 columns but the model has 3 levels"):
        model.decode(np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="outside the codebook"):
        model.decode(np.array([[0, 0, 256]]))
    with pytest.raises(ValueError, match="2 ids for 3 embedding rows"):
        rqvae.IdTable.create(model).add(model, sample_f32[:3], ids=[1, 2])
    # Every one of these is an RqvaeError, itself a ValueError.
    assert issubclass(rqvae.RqvaeError, ValueError)


def test_a_non_contiguous_array_is_refused_with_the_fix_in_the_message(model, sample_f32):
    with pytest.raises(rqvae.RqvaeError, match=r"not C-contiguous .* numpy.ascontiguousarray"):
        model.encode(np.asfortranarray(sample_f32[:10]))
    with pytest.raises(rqvae.RqvaeError, match="not C-contiguous"):
        model.encode(sample_f32[::2])


def test_nan_or_infinite_rows_are_refused_with_their_position(model, sample_f16):
    x = sample_f16[:5].copy()
    x[2, 3] = np.inf
    with pytest.raises(rqvae.RqvaeError, match="row 2, column 3 is inf"):
        model.encode(x)
    with pytest.raises(rqvae.RqvaeError, match="row 2, column 3 is inf"):
        rqvae.IdTable.create(model).add(model, x)


def test_unusable_files_raise_errors_naming_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such.safetensors"):
        rqvae.Model.load(tmp_path / "no-such.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    with pytest.raises(rqvae.RqvaeError, match="bad.safetensors: not usable rqvae weights"):
        rqvae.Model.load(bad)
    table = tmp_path / "t.jsonl"
    table.write_text('{"id": 1}\n')
    with pytest.raises(rqvae.RqvaeError, match="t.jsonl: not a usable ID table"):
        rqvae.IdTable.load(table)


def test_another_python_thread_runs_while_a_large_encode_works(model, sample_f32):
    """With the switch interval raised, a thread only gets the GIL when the holder gives it up:
    the main thread can run Python while the worker is inside encode only if encode released it.
    """
    big = np.tile(sample_f32, (3, 1))
    started, done = threading.Event(), threading.Event()
    result = {}

    def work():
        started.set()
        result["ids"] = model.encode(big)
        done.set()

    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        started.wait()
        # Each wait() gives the GIL up briefly; the loop body is Python that needs it.
        steps_during_encode = 0
        while not done.wait(0.0005):
            steps_during_encode += 1
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert steps_during_encode > 0
    np.testing.assert_array_equal(result["ids"][:3000], model.encode(sample_f32))


TORCH_FIXTURES = ROOT / "tests" / "fixtures" / "torch"


def _torch_codes(name):
    return np.array(json.loads((TORCH_FIXTURES / name).read_text())["codes"], dtype=np.uint16)


def test_a_pytorch_checkpoint_imports_to_the_ids_pytorch_gave():
    x = np.load(TORCH_FIXTURES / "inputs.npy")
    for name in ["torch-ref", "residual-vq", "rq-vae-recommender"]:
        model = rqvae.Model.from_torch(TORCH_FIXTURES / f"{name}.pth")
        np.testing.assert_array_equal(model.encode(x), _torch_codes(f"{name}.codes.json"))
    key_map = json.loads((TORCH_FIXTURES / "custom.keymap.json").read_text())
    model = rqvae.Model.from_torch(TORCH_FIXTURES / "custom.pth", key_map=key_map)
    custom = np.load(TORCH_FIXTURES / "custom.inputs.npy")
    np.testing.assert_array_equal(model.encode(custom), _torch_codes("custom.codes.json"))


def test_a_refused_checkpoint_is_an_error_naming_the_class():
    with pytest.raises(rqvae.RqvaeError, match=r"bad-executes-code\.pth: cannot import: refused: .*posix\.system"):
        rqvae.Model.from_torch(TORCH_FIXTURES / "bad-executes-code.pth")
    with pytest.raises(rqvae.RqvaeError, match="norm.weight"):
        rqvae.Model.from_torch(TORCH_FIXTURES / "bad-extra-keys.pth")
    model = rqvae.Model.from_torch(TORCH_FIXTURES / "bad-extra-keys.pth", ignore=["norm."], no_decoder=True)
    assert not model.has_decoder
    with pytest.raises(rqvae.RqvaeError, match="key_map"):
        rqvae.Model.from_torch(TORCH_FIXTURES / "custom.pth", key_map={"encoder": ["x"]})
