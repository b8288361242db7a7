//! Writing results: IDs as .npy / .csv / .jsonl, reconstructions and JSON, without partial files.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Writes `bytes` to a sibling temporary file and renames it over `path`, so an interrupted write
/// never leaves a truncated result behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Serialises IDs (`[n, levels]` row-major) in the format named by `path`'s extension.
pub fn ids_bytes(path: &Path, ids: &[u32], levels: usize) -> Result<Vec<u8>> {
    let n = ids.len() / levels;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "npy" => {
            let values: Vec<i32> = ids.iter().map(|&v| v as i32).collect();
            rqvae::npy::to_npy_bytes(&values, n, levels)
        }
        "csv" => {
            let mut s = String::from("row");
            for l in 0..levels {
                s.push_str(&format!(",code_{l}"));
            }
            s.push('\n');
            for (i, row) in ids.chunks_exact(levels).enumerate() {
                s.push_str(&i.to_string());
                for v in row {
                    s.push_str(&format!(",{v}"));
                }
                s.push('\n');
            }
            s.into_bytes()
        }
        "jsonl" => {
            let mut s = String::new();
            for (i, row) in ids.chunks_exact(levels).enumerate() {
                s.push_str(&serde_json::json!({ "row": i, "ids": row }).to_string());
                s.push('\n');
            }
            s.into_bytes()
        }
        other => bail!(
            "{}: unknown output extension {other:?}; use .npy, .csv or .jsonl",
            path.display()
        ),
    })
}
