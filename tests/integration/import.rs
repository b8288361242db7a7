//! PyTorch checkpoints imported without PyTorch: the fixtures in `tests/fixtures/torch/` were
//! written by `make_fixtures.py` with PyTorch, beside the IDs PyTorch's own encode gave.

use burn::backend::NdArray;
use rqvae::ids::canonical::{encode, encode_on_backend};
use rqvae::import::{import_checkpoint, ImportError, ImportOptions, KeyMap};
use rqvae::npy::read_embeddings;
use rqvae::{Embeddings, HostModel, ModelWeights, Precision};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn import(name: &str, options: &ImportOptions) -> Result<rqvae::import::Imported, ImportError> {
    import_checkpoint(&bytes(name), name, options)
}

fn torch_codes(name: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["codes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|c| c.as_u64().unwrap() as u32)
        .collect()
}

fn custom_map() -> KeyMap {
    let path = fixture("custom.keymap.json");
    KeyMap::from_json(
        &std::fs::read_to_string(&path).unwrap(),
        "custom.keymap.json",
    )
    .unwrap()
}

/// IDs on the host (canonical) and on burn's CPU backend must both equal PyTorch's, rows the
/// contract calls near-ties aside.
fn assert_encodes_like_torch(weights: &ModelWeights, inputs: &str, codes: &str) {
    let x: Embeddings = read_embeddings(&fixture(inputs)).unwrap();
    let want = torch_codes(codes);
    let host = HostModel::new(weights).unwrap();
    let levels = weights.config.levels;
    let canonical = encode(&host, &x);
    let device = Default::default();
    let model = weights.to_model::<NdArray<f32>>(&device);
    let checked = encode_on_backend(&model, &host, &x, 16, &device);
    assert_eq!(checked.ids, canonical, "burn and the host differ");
    let mut differ = 0;
    for row in 0..x.rows() {
        let r = row * levels..(row + 1) * levels;
        if canonical[r.clone()] != want[r.clone()] {
            differ += 1;
            assert!(
                checked.redecided.contains(&row),
                "{codes}: row {row} gives {:?}, PyTorch {:?}, and is no near-tie",
                &canonical[r.clone()],
                &want[r]
            );
        }
    }
    // Small models put many rows under the contract's relative margin; still, rounding moves
    // almost none of them.
    assert!(differ <= 2, "{codes}: {differ} rows differ from PyTorch's");
}

#[test]
fn the_reference_layout_encodes_to_the_ids_pytorch_gave() {
    // Its first weight is a transposed view in the file: strides must be followed.
    let imported = import("torch-ref.pth", &ImportOptions::default()).unwrap();
    assert_eq!(imported.layout, "torch-ref");
    let c = &imported.weights.config;
    assert_eq!(
        (c.input_dim, c.latent_dim, c.levels, c.codebook_size),
        (24, 8, 3, 16)
    );
    assert_eq!(c.hidden_dims, [20, 16, 12]);
    assert!(imported.weights.decoder.is_some());
    assert_encodes_like_torch(&imported.weights, "inputs.npy", "torch-ref.codes.json");
}

#[test]
fn residual_vq_codebooks_beside_a_users_mlp_encode_to_pytorchs_ids() {
    let imported = import("residual-vq.pth", &ImportOptions::default()).unwrap();
    assert_eq!(imported.layout, "residual-vq");
    assert_encodes_like_torch(&imported.weights, "inputs.npy", "residual-vq.codes.json");
}

#[test]
fn rq_vae_recommender_codebooks_beside_a_relu_mlp_encode_to_pytorchs_ids() {
    let imported = import("rq-vae-recommender.pth", &ImportOptions::default()).unwrap();
    assert_eq!(imported.layout, "rq-vae-recommender");
    assert_eq!(imported.source["state_dict"], "model");
    assert_encodes_like_torch(
        &imported.weights,
        "inputs.npy",
        "rq-vae-recommender.codes.json",
    );
}

#[test]
fn a_key_map_imports_bfloat16_views_under_names_no_layout_knows() {
    // The codebooks are slices of one bfloat16 storage: offsets into a record.
    let options = ImportOptions {
        key_map: Some(custom_map()),
        ..Default::default()
    };
    let imported = import("custom.pth", &options).unwrap();
    assert_eq!(imported.layout, "key-map");
    assert!(imported.weights.decoder.is_none());
    assert_encodes_like_torch(&imported.weights, "custom.inputs.npy", "custom.codes.json");
}

#[test]
fn an_imported_model_records_its_source_and_its_fingerprint_is_its_weights() {
    let imported = import("torch-ref.pth", &ImportOptions::default()).unwrap();
    let file = imported.to_bytes(Precision::F32).unwrap();
    let again = ModelWeights::from_bytes(&file).unwrap();
    assert_eq!(again, imported.weights);
    let (_, header) = safetensors::SafeTensors::read_metadata(&file).unwrap();
    let source: serde_json::Value =
        serde_json::from_str(&header.metadata().as_ref().unwrap()["source"]).unwrap();
    assert_eq!(source["file"], "torch-ref.pth");
    assert_eq!(source["layout"], "torch-ref");
    assert_eq!(source["state_dict"], "model_state_dict");
    assert_eq!(source["config"]["codebook_size"], 16);
    assert_eq!(source["tensors"]["quantizer.codebooks.2"], "books.2");
    assert!(source["sha256"].as_str().unwrap().starts_with("sha256:"));
    let plain = imported.weights.to_bytes(Precision::F32).unwrap();
    let fp = |b: &[u8]| {
        HostModel::new(&ModelWeights::from_bytes(b).unwrap())
            .unwrap()
            .fingerprint()
            .to_string()
    };
    assert_eq!(
        fp(&file),
        fp(&plain),
        "metadata must not change the fingerprint"
    );
}

#[test]
fn a_pickle_that_would_run_code_is_refused_by_name_and_never_run() {
    let marker = std::path::Path::new("/tmp/rqvae-import-was-executed");
    let _ = std::fs::remove_file(marker);
    let err = import("bad-executes-code.pth", &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::RefusedClass(c) if c == "posix.system"),
        "{err}"
    );
    assert!(err.to_string().contains("is ever run"), "{err}");
    assert!(!marker.exists());
}

#[test]
fn a_whole_pickled_module_is_refused_by_its_class() {
    let err = import("bad-full-model.pth", &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("__main__.Reference"), "{err}");
    assert!(err.to_string().contains("state_dict()"), "{err}");
}

#[test]
fn a_truncated_or_damaged_checkpoint_is_refused_never_half_read() {
    let full = bytes("torch-ref.pth");
    for cut in [10, 100, full.len() / 2, full.len() - 30, full.len() - 1] {
        let err = import_checkpoint(&full[..cut], "cut.pth", &Default::default()).unwrap_err();
        assert!(
            matches!(err, ImportError::Damaged(_) | ImportError::NotZip(_)),
            "cut at {cut}: {err}"
        );
    }
    // A flipped byte inside a tensor record: the zip CRC catches it.
    let mut damaged = full.clone();
    let at = full.len() / 3;
    damaged[at] ^= 0x40;
    match import_checkpoint(&damaged, "flip.pth", &Default::default()) {
        Err(ImportError::Damaged(m)) => assert!(m.contains("data") || m.contains("pkl"), "{m}"),
        Err(other) => panic!("a flipped byte gave {other}"),
        Ok(_) => panic!("a flipped byte was imported"),
    }
}

#[test]
fn no_corruption_of_a_checkpoint_panics() {
    let full = bytes("torch-ref.pth");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        let mut b = full.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % b.len();
            b[at] = (state >> 32) as u8;
        }
        let _ = import_checkpoint(&b, "fuzz.pth", &Default::default());
    }
}

#[test]
fn extra_tensors_are_named_and_can_be_left_out() {
    let err = import("bad-extra-keys.pth", &ImportOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ImportError::ExtraKeys { count: 2, .. }),
        "{text}"
    );
    assert!(
        text.contains("norm.weight") && text.contains("norm.bias"),
        "{text}"
    );
    let options = ImportOptions {
        ignore: vec!["norm.".into()],
        ..Default::default()
    };
    let imported = import("bad-extra-keys.pth", &options).unwrap();
    assert_encodes_like_torch(&imported.weights, "inputs.npy", "torch-ref.codes.json");
}

#[test]
fn a_tensor_the_key_map_names_but_the_file_lacks_is_named() {
    let mut map = custom_map();
    map.codebooks[1] = "table7".into();
    let options = ImportOptions {
        key_map: Some(map),
        ..Default::default()
    };
    let err = import("custom.pth", &options).unwrap_err();
    assert!(
        matches!(&err, ImportError::MissingKey(k) if k == "table7"),
        "{err}"
    );
}

#[test]
fn a_codebook_of_another_size_is_refused_with_both_shapes() {
    let err = import("bad-codebook-size.pth", &ImportOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("books.2") && text.contains("[32, 8]"),
        "{text}"
    );
    assert!(
        text.contains("[16, 8]") && text.contains("books.0"),
        "{text}"
    );
}

#[test]
fn a_state_dict_of_another_architecture_is_refused() {
    let err = import("bad-other-architecture.pth", &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no codebooks found"), "{err}");
}

#[test]
fn rq_vae_recommenders_own_silu_mlp_is_refused_unless_a_key_map_vouches_for_it() {
    let err = import("rq-vae-recommender-silu.pth", &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("SiLU"), "{err}");
    let map = KeyMap {
        encoder: ["0", "2", "4", "6"]
            .map(|i| format!("encoder.mlp.{i}"))
            .to_vec(),
        codebooks: (0..3)
            .map(|l| format!("layers.{l}.embedding.weight"))
            .collect(),
        ..Default::default()
    };
    let options = ImportOptions {
        key_map: Some(map),
        ..Default::default()
    };
    let imported = import("rq-vae-recommender-silu.pth", &options).unwrap();
    // Bias-free layers come in with zero biases.
    assert!(imported
        .weights
        .encoder
        .iter()
        .all(|l| l.bias.iter().all(|&b| b == 0.0)));
}

#[test]
fn a_key_map_with_unknown_fields_or_no_codebooks_is_refused_with_its_path() {
    let err = KeyMap::from_json(r#"{"encoder":["a"],"codebook":["b"]}"#, "m.json").unwrap_err();
    assert!(
        err.to_string().contains("m.json") && err.to_string().contains("codebook"),
        "{err}"
    );
    let err = KeyMap::from_json(r#"{"encoder":["a"],"codebooks":[]}"#, "m.json").unwrap_err();
    assert!(err.to_string().contains("at least one"), "{err}");
}

#[test]
fn files_that_are_not_zip_checkpoints_say_what_they_look_like() {
    let safetensors = import("torch-ref.pth", &ImportOptions::default())
        .unwrap()
        .weights
        .to_bytes(Precision::F32)
        .unwrap();
    let err = import_checkpoint(&safetensors, "m.safetensors", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("safetensors"), "{err}");
    let err = import_checkpoint(b"\x80\x02}q\x00.", "old.pth", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("bare pickle"), "{err}");
}

#[test]
fn a_crafted_pickle_that_nests_or_copies_without_end_is_refused_not_crashed() {
    // A zip checkpoint around a hand-written pickle: `]` pushed 100,000 times then appended
    // into each other nests that deep; `]q\0` then `h\0h\0\x86q\0` 60 times doubles a value.
    fn checkpoint(pickle: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("m/data.pkl", stored).unwrap();
        zip.write_all(pickle).unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }
    let mut nest = b"\x80\x02".to_vec();
    nest.extend(std::iter::repeat_n(b']', 100_000));
    nest.extend(std::iter::repeat_n(b'a', 99_999));
    nest.push(b'.');
    let err = import_checkpoint(&checkpoint(&nest), "nest.pth", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("nest deeper"), "{err}");
    let mut double = b"\x80\x02]q\x00".to_vec();
    for _ in 0..60 {
        double.extend(b"0h\x00h\x00\x86q\x00");
    }
    double.push(b'.');
    let err =
        import_checkpoint(&checkpoint(&double), "double.pth", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("copies more than"), "{err}");
}
