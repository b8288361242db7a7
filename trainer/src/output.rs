//! Writing results: IDs as .npy / .csv / .jsonl, reconstructions and JSON, without partial files.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` as `path`, whole or not at all (`rqvae::atomic`): an interrupted write never
/// leaves a truncated result behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    rqvae::atomic::write_atomic(path, bytes).with_context(|| cannot_write(path))
}

/// [`write_atomic`] for a result written piece by piece by `write`, so that it is never held
/// whole in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut rqvae::atomic::AtomicFile) -> std::io::Result<()>,
) -> Result<()> {
    rqvae::atomic::write_atomic_with(path, write).with_context(|| cannot_write(path))
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

/// Results that appear together or not at all: each is written into its temporary sibling, and
/// all are renamed over their paths only once every one is complete. A failure (or a kill) part
/// way leaves none of them, so a directory of exports never mixes new files with old ones.
#[derive(Default)]
pub struct StagedFiles(Vec<rqvae::atomic::AtomicFile>);

impl StagedFiles {
    /// Writes `path`'s content with `write`, into its temporary file.
    pub fn write(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut rqvae::atomic::AtomicFile) -> std::io::Result<()>,
    ) -> Result<()> {
        let mut file =
            rqvae::atomic::AtomicFile::create(path).with_context(|| cannot_write(path))?;
        write(&mut file).with_context(|| cannot_write(path))?;
        self.0.push(file);
        Ok(())
    }

    /// Renames every file over its path. A path that a rename cannot replace (a directory) is
    /// refused before the first rename, so that no file of the set is replaced alone.
    pub fn finish(self) -> Result<()> {
        if let Some(file) = self.0.iter().find(|f| f.path().is_dir()) {
            bail!(
                "cannot write {}: it is a directory (nothing was written)",
                file.path().display()
            );
        }
        for file in self.0 {
            let path = file.path().to_path_buf();
            file.finish().with_context(|| cannot_write(&path))?;
        }
        Ok(())
    }
}

fn cannot_write(path: &Path) -> String {
    format!("cannot write {}", path.display())
}

/// `rqvae::atomic::AtomicFile` with errors that name the file, for results written as they are
/// computed (encode's and embed's rows).
pub struct AtomicFile(rqvae::atomic::AtomicFile);

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self> {
        let file = rqvae::atomic::AtomicFile::create(path).with_context(|| cannot_write(path))?;
        Ok(Self(file))
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.0
            .write_all(bytes)
            .with_context(|| cannot_write(self.0.path()))
    }

    pub fn finish(self) -> Result<()> {
        let path = self.0.path().to_path_buf();
        self.0.finish().with_context(|| cannot_write(&path))
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
