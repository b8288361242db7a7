//! The `rqvae-train` binary as a user runs it: real files on disk, exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rqvae-train");

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sample_2000.f32.npy")
}

/// A fresh directory under the system temp dir, unique to this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rqvae-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run rqvae-train")
}

/// Fails unless the command succeeded; the message shows its stderr.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "expected success; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails unless the command failed cleanly: non-zero exit, no panic, and every `needle` in stderr.
fn assert_clean_failure(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "panic instead of an error: {stderr}"
    );
    assert!(!stderr.contains("stack backtrace"), "backtrace: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}

fn write_npy_f32(path: &Path, rows: usize, cols: usize, f: impl Fn(usize) -> f32) {
    let values: Vec<f32> = (0..rows * cols).map(f).collect();
    std::fs::write(path, rqvae::npy::to_npy_bytes(&values, rows, cols)).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn help_explains_every_command() {
    let out = run(&["--help"]);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["train", "eval", "encode", "export"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
    let out = run(&["train", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--embeddings",
        "--out",
        "--epochs",
        "--batch-size",
        "--resume",
        "--backend",
    ] {
        assert!(text.contains(flag), "train --help lacks {flag}");
    }
}

#[test]
fn bad_embeddings_files_get_clear_errors() {
    let dir = scratch("bad-inputs");
    let out_dir = dir.join("run");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.npy", Vec::new(), "empty"),
        ("text.npy", b"id,title\n1,foo\n".to_vec(), "not a .npy file"),
        (
            "ints.npy",
            rqvae::npy::to_npy_bytes(&[1i32, 2, 3, 4], 2, 2),
            "<i4",
        ),
        (
            "truncated.npy",
            {
                let mut b = rqvae::npy::to_npy_bytes(&[0.5f32; 8], 2, 4);
                b.truncate(b.len() - 3);
                b
            },
            "truncated",
        ),
        (
            "nan.npy",
            rqvae::npy::to_npy_bytes(&[0.1f32, 0.2, f32::NAN, 0.4], 2, 2),
            "row 1, column 0",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = run(&[
            "train",
            "--embeddings",
            s(&path),
            "--out",
            s(&out_dir),
            "--epochs",
            "1",
        ]);
        assert_clean_failure(&out, &[name, needle]);
    }
    let missing = dir.join("missing.npy");
    let out = run(&["train", "--embeddings", s(&missing), "--out", s(&out_dir)]);
    assert_clean_failure(&out, &["missing.npy"]);
}

#[test]
fn batch_larger_than_data_and_unwritable_output_are_refused() {
    let dir = scratch("batch");
    let small = dir.join("small.npy");
    write_npy_f32(&small, 10, 8, |i| (i as f32 * 0.37).sin());
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&dir.join("run")),
        "--batch-size",
        "64",
    ]);
    assert_clean_failure(&out, &["batch size 64", "10 rows"]);

    // A regular file where the run directory should go cannot be created as a directory.
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&blocker.join("run")),
        "--batch-size",
        "4",
    ]);
    assert_clean_failure(&out, &["cannot create run directory"]);
}

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
    assert!(String::from_utf8_lossy(&out.stdout).contains("NN overlap@5"));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(metrics["items"], 2000);
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

/// A run stopped after its checkpoint resumes and finishes with the epoch count it started with.
#[test]
fn resume_continues_a_stopped_run() {
    let dir = scratch("resume");
    let run_dir = dir.join("run");
    let sample = sample();
    let config = dir.join("small.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [32], "latent_dim": 4, "levels": 2, "codebook_size": 8}"#,
    )
    .unwrap();
    let base = [
        "train",
        "--embeddings",
        s(&sample),
        "--out",
        s(&run_dir),
        "--batch-size",
        "1000",
        "--eval-queries",
        "100",
        "--checkpoint-every",
        "2",
    ];
    let mut first: Vec<&str> = base.to_vec();
    first.extend(["--config", s(&config), "--epochs", "4"]);
    let out = run(&first);
    assert_success(&out);
    // Drop the final model as if the run had been killed after its last checkpoint, then resume
    // asking for 6 epochs in all.
    std::fs::remove_file(run_dir.join("model.safetensors")).unwrap();
    let mut resume: Vec<&str> = base.to_vec();
    resume.extend(["--resume", "--epochs", "6"]);
    let out = run(&resume);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert!(run_dir.join("model.safetensors").is_file());
    let state = std::fs::read_to_string(run_dir.join("checkpoint/state.json")).unwrap();
    assert!(state.contains("\"epochs_done\": 6"), "{state}");

    let missing = dir.join("nothing-here");
    let mut bad: Vec<&str> = base.to_vec();
    bad[4] = s(&missing);
    bad.push("--resume");
    let out = run(&bad);
    assert_clean_failure(&out, &["no checkpoint to resume"]);
}
