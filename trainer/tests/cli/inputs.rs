//! Every subcommand's embeddings input: bad files get one clear error naming the file.

use crate::common::{assert_clean_failure, run, s, scratch};
use std::path::Path;
use std::process::Output;

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
        assert_said_once(&out, needle, &path);
    }
    let missing = dir.join("missing.npy");
    let out = run(&["train", "--embeddings", s(&missing), "--out", s(&out_dir)]);
    assert_clean_failure(&out, &["missing.npy"]);
    assert_said_once(&out, "cannot read", &missing);
}

/// The problem is stated once (outside the file's name): a message that repeats its own cause
/// reads as two errors.
fn assert_said_once(out: &Output, needle: &str, path: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr.replace(s(path), "");
    assert_eq!(
        message.matches(needle).count(),
        1,
        "{needle:?} repeated: {stderr}"
    );
}
