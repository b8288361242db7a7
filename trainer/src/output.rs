//! Writing results: IDs as .npy / .csv / .jsonl, reconstructions and JSON, without partial files.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to a sibling temporary file and renames it over `path`, so an interrupted write
/// never leaves a truncated result behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write(bytes)?;
    file.finish()
}

/// [`write_atomic`] for a result written piece by piece by `write`, so that it is never held
/// whole in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file.out).with_context(|| format!("cannot write {}", path.display()))?;
    file.finish()
}

/// Writes embeddings as a float32 `.npy`, a row at a time (no second copy of them in memory).
pub fn write_npy_f32(path: &Path, x: &rqvae::Embeddings) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write(&rqvae::npy::npy_header::<f32>(x.rows(), x.dim()))?;
    let mut bytes = Vec::with_capacity(x.dim() * 4);
    for r in 0..x.rows() {
        bytes.clear();
        rqvae::npy::push_npy_values(x.row(r), &mut bytes);
        file.write(&bytes)?;
    }
    file.finish()
}

fn partial_path(path: &Path) -> Result<PathBuf> {
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    Ok(path.with_file_name(format!(".{}.partial", file_name.to_string_lossy())))
}

/// A result written piece by piece into a sibling temporary file, renamed over `path` only by
/// [`AtomicFile::finish`]: a run that fails or is killed half-way leaves no truncated result, and
/// the pieces need not all be in memory at once.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = partial_path(path)?;
        let file =
            File::create(&tmp).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub fn finish(mut self) -> Result<()> {
        let context = || format!("cannot write {}", self.path.display());
        self.out.flush().with_context(context)?;
        std::fs::rename(&self.tmp, &self.path).with_context(context)
    }
}

impl Drop for AtomicFile {
    /// An unfinished file is removed; after `finish` the rename already moved it, so this fails
    /// silently.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
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
