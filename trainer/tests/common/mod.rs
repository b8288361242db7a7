//! What the `rqvae-train` integration tests share: the binary, scratch directories, the test
//! data (`data`, the one place that names it for every Rust test) and checks on a finished
//! command.
#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_rqvae-train");

#[path = "../../../tests/support/data.rs"]
pub mod data;

/// The sample's first 2,000 rows as a float32 `.npy`: the CLI tests' training data.
pub fn sample() -> PathBuf {
    data::sample_rows_npy(2000)
}

/// A fresh directory under the system temp dir, unique to this test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rqvae-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run rqvae-train")
}

/// Fails unless the command succeeded; the message shows its stderr.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "expected success; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails unless the command failed cleanly: non-zero exit, no panic, and every `needle` in stderr.
pub fn assert_clean_failure(out: &Output, needles: &[&str]) {
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

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
