//! Results written whole or not at all: into a sibling temporary file, renamed over the target
//! only when complete, so that a run that fails or is killed half-way never leaves a truncated
//! result where a complete one is expected. One writer for every native result (the CLI's, the
//! Python package's, the ID table's Parquet), so that they all behave alike.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A result written piece by piece into a sibling temporary file, renamed over its path only by
/// [`AtomicFile::finish`]; dropped unfinished, the temporary file is removed. The pieces need not
/// all be in memory at once.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
}

impl AtomicFile {
    /// Starts `path`'s temporary sibling, `.NAME.PID.partial` (the process id, so that two
    /// processes writing the same result do not write into one file).
    pub fn create(path: &Path) -> io::Result<Self> {
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file path (no file name)",
            )
        })?;
        let tmp = path.with_file_name(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp)?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// The path the result goes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the pieces and renames the temporary file over the result's path.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for AtomicFile {
    /// An unfinished file is removed; after `finish` the rename already moved it, so this fails
    /// silently.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Writes `bytes` as `path`, whole or not at all.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Writes what `write` gives as `path`, whole or not at all, without holding it whole in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut AtomicFile) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file)?;
    file.finish()
}
