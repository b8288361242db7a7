//! `rqvae-train import`: PyTorch checkpoints in, a weights file out that `encode` reads; refused
//! checkpoints leave nothing behind.

use crate::common::{assert_clean_failure, assert_success, run, s, scratch};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/torch")
        .join(name)
}

/// A JSON array of numbers as codes.
fn codes(row: &serde_json::Value) -> Vec<u64> {
    row.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

fn torch_codes(name: &str) -> Vec<Vec<u64>> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    json["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(codes)
        .collect()
}

#[test]
fn import_writes_a_model_whose_encode_gives_pytorchs_ids() {
    let dir = scratch("import-encode");
    let model = dir.join("m.safetensors");
    let out = run(&[
        "import",
        "--pth",
        s(&fixture("torch-ref.pth")),
        "--out",
        s(&model),
    ]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("torch-ref layout"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("fingerprint sha256:"));
    let ids = dir.join("ids.jsonl");
    let inputs = fixture("inputs.npy");
    assert_success(&run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&inputs),
        "--out",
        s(&ids),
    ]));
    let got: Vec<Vec<u64>> = std::fs::read_to_string(&ids)
        .unwrap()
        .lines()
        .map(|l| codes(&serde_json::from_str::<serde_json::Value>(l).unwrap()["ids"]))
        .collect();
    assert_eq!(got, torch_codes("torch-ref.codes.json"));
}

#[test]
fn a_refused_checkpoint_fails_cleanly_and_writes_nothing() {
    let dir = scratch("import-refused");
    for (file, needle) in [
        ("bad-executes-code.pth", "posix.system"),
        ("bad-full-model.pth", "__main__.Reference"),
        ("bad-codebook-size.pth", "books.2"),
        ("bad-extra-keys.pth", "norm.weight"),
        ("bad-other-architecture.pth", "no codebooks found"),
        ("rq-vae-recommender-silu.pth", "SiLU"),
    ] {
        let model = dir.join(format!("{file}.safetensors"));
        let out = run(&["import", "--pth", s(&fixture(file)), "--out", s(&model)]);
        assert_clean_failure(&out, &[file, needle]);
        assert!(!model.exists(), "{file}: a model was written");
    }
    let out = run(&[
        "import",
        "--pth",
        s(&fixture("custom.pth")),
        "--out",
        s(&dir.join("k.safetensors")),
        "--key-map",
        s(&dir.join("missing.json")),
    ]);
    assert_clean_failure(&out, &["cannot read key map", "missing.json"]);
}

#[test]
fn ignore_and_no_decoder_shape_what_is_imported() {
    let dir = scratch("import-options");
    let model = dir.join("m.safetensors");
    let out = run(&[
        "import",
        "--pth",
        s(&fixture("bad-extra-keys.pth")),
        "--out",
        s(&model),
        "--ignore",
        "norm.",
        "--no-decoder",
        "--f16",
    ]);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no decoder"));
    let weights = rqvae::ModelWeights::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    assert!(weights.decoder.is_none());
    assert_eq!(weights.config.codebook_size, 16);
}
