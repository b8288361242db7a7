//! `eval`, `encode` and `export` on a model `train` just wrote.

use crate::common::{assert_clean_failure, assert_success, run, s, sample, scratch};
use crate::write_npy_f32;

/// Trains a tiny run once and exercises eval, encode, export and the model checks on it.
#[test]
fn train_eval_encode_export_round_trip() {
    let dir = scratch("roundtrip");
    let run_dir = dir.join("run");
    let config = dir.join("small.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [64], "latent_dim": 8, "levels": 2, "codebook_size": 16}"#,
    )
    .unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&sample()),
        "--out",
        s(&run_dir),
        "--config",
        s(&config),
        "--epochs",
        "3",
        "--batch-size",
        "500",
        "--checkpoint-every",
        "2",
        "--eval-queries",
        "200",
    ]);
    assert_success(&out);
    for file in [
        "config.json",
        "train.json",
        "log.jsonl",
        "model.safetensors",
        "metrics.json",
    ] {
        assert!(run_dir.join(file).is_file(), "run directory lacks {file}");
    }
    let log = std::fs::read_to_string(run_dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "one log line per epoch");

    // Training again into the same directory must not overwrite it.
    let again = run(&["train", "--embeddings", s(&sample()), "--out", s(&run_dir)]);
    assert_clean_failure(&again, &["already holds a run", "--resume"]);

    let model = run_dir.join("model.safetensors");
    let json = dir.join("metrics.json");
    let out = run(&[
        "eval",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--json",
        s(&json),
        "--queries",
        "200",
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NN overlap@5"), "{stdout}");
    assert!(
        stdout.contains("input: pair cosine / top direction"),
        "{stdout}"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(metrics["items"], 2000);
    // The sample's titles share a domain, not one dominating direction.
    let cosine = metrics["anisotropy"]["mean_pair_cosine"].as_f64().unwrap();
    assert!(cosine > 0.0 && cosine < 0.5, "{cosine}");
    assert_eq!(metrics["levels"].as_array().unwrap().len(), 2);

    // IDs in all three formats agree with each other.
    let npy = dir.join("ids.npy");
    let csv = dir.join("ids.csv");
    let recon = dir.join("recon.npy");
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--out",
        s(&npy),
        "--recon",
        s(&recon),
    ]);
    assert_success(&out);
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--out",
        s(&csv),
    ]);
    assert_success(&out);
    let npy_bytes = std::fs::read(&npy).unwrap();
    let header_end = npy_bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(String::from_utf8_lossy(&npy_bytes[..header_end]).contains("(2000, 2)"));
    let ids: Vec<i32> = npy_bytes[header_end..]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv_text.lines();
    assert_eq!(lines.next(), Some("row,code_0,code_1"));
    for (i, line) in lines.enumerate() {
        let expected = format!("{i},{},{}", ids[2 * i], ids[2 * i + 1]);
        assert_eq!(line, expected);
    }
    let (recon, _) = rqvae::npy::read_embeddings_bytes(&std::fs::read(&recon).unwrap()).unwrap();
    assert_eq!((recon.rows(), recon.dim()), (2000, 768));

    // Export f16 without decoder: smaller, same IDs.
    let exported = dir.join("browser.safetensors");
    let out = run(&[
        "export",
        "--run",
        s(&run_dir),
        "--out",
        s(&exported),
        "--f16",
        "--no-decoder",
    ]);
    assert_success(&out);
    assert!(
        std::fs::metadata(&exported).unwrap().len() < std::fs::metadata(&model).unwrap().len() / 2
    );
    let out = run(&[
        "eval",
        "--model",
        s(&exported),
        "--embeddings",
        s(&sample()),
    ]);
    assert_clean_failure(&out, &["no decoder"]);

    // Wrong dimension for the model.
    let narrow = dir.join("narrow.npy");
    write_npy_f32(&narrow, 5, 10, |i| i as f32);
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&narrow),
        "--out",
        s(&npy),
    ]);
    assert_clean_failure(&out, &["narrow.npy", "dimension is 10", "expects 768"]);

    // A model file whose tensors disagree with its config.
    let mut bytes = std::fs::read(&model).unwrap();
    // Search the raw bytes: the header's length prefix is not UTF-8, so offsets into a lossy
    // string would be shifted.
    let needle = br#"\"latent_dim\":8"#;
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("config in metadata");
    bytes[at + needle.len() - 1] = b'9';
    let broken = dir.join("broken.safetensors");
    std::fs::write(&broken, &bytes).unwrap();
    let out = run(&["eval", "--model", s(&broken), "--embeddings", s(&sample())]);
    assert_clean_failure(&out, &["broken.safetensors", "shape"]);

    // A truncated model file.
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["eval", "--model", s(&broken), "--embeddings", s(&sample())]);
    assert_clean_failure(&out, &["broken.safetensors"]);
}
