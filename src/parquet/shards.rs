//! Which files a Parquet input names: one `.parquet` file, or every `*.parquet` file directly in
//! a directory, in file-name order (how pyarrow, Spark and Ray number their shards), so that rows
//! are numbered on across shards the same way on every read.

use super::error::ParquetError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Whether `path` is read as Parquet: a file ending in `.parquet`, or a directory (of shards).
pub fn is_parquet_input(path: &Path) -> bool {
    path.is_dir()
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// The files of a Parquet input in reading order. In a directory, names starting with `.` or `_`
/// (Spark's `_SUCCESS`, hidden temporary files) are not shards; sub-directories are not read.
pub fn shard_paths(path: &Path) -> Result<Vec<PathBuf>, ParquetError> {
    let io = |source| ParquetError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.is_dir() {
        // Opening it says whether it exists.
        File::open(path).map_err(io)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut shards = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_shard = !name.starts_with('.')
            && !name.starts_with('_')
            && name.to_ascii_lowercase().ends_with(".parquet")
            && entry.path().is_file();
        if is_shard {
            shards.push(entry.path());
        }
    }
    if shards.is_empty() {
        return Err(ParquetError::NoShards {
            path: path.display().to_string(),
        });
    }
    shards.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(shards)
}

/// Opens one shard and reads its footer (schema, row groups, key-value metadata).
pub fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, ParquetError> {
    let file = File::open(path).map_err(|source| ParquetError::Io {
        path: path.display().to_string(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| ParquetError::NotParquet {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Rows in a shard, from its footer.
pub fn row_count(builder: &ParquetRecordBatchReaderBuilder<File>) -> usize {
    builder.metadata().file_metadata().num_rows().max(0) as usize
}
