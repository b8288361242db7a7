//! The `rqvae-train` binary as a user runs it: real files on disk, exit codes and messages. One
//! test binary (each would link the crate again), one file per subcommand.

#[path = "../common/mod.rs"]
mod common;

mod anisotropic;
mod assign;
mod fine_tune;
mod import;
mod inputs;
mod parquet_inputs;
mod round_trip;
mod text;
mod tokens;
mod train;

use common::{assert_success, run};
use std::path::Path;

/// A float32 `.npy` of `rows × cols` values `f(i)`.
pub fn write_npy_f32(path: &Path, rows: usize, cols: usize, f: impl Fn(usize) -> f32) {
    let values: Vec<f32> = (0..rows * cols).map(f).collect();
    std::fs::write(path, rqvae::npy::to_npy_bytes(&values, rows, cols)).unwrap();
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
        "--input-transform",
    ] {
        assert!(text.contains(flag), "train --help lacks {flag}");
    }
}
