//! Embeddings from a user's file, whichever its format: a `.npy`, or Parquet (a `.parquet` file or
//! a directory of shards) with the vectors in a named column. One place decides the format and
//! checks the column, so that the CLI and the Python package read every file alike.

use crate::embeddings::Embeddings;
use crate::npy::{NpyFileError, NpyRowReader};
use crate::parquet::{is_parquet_input, ParquetError, ParquetRowReader};
use crate::sample::{sample_rows, RowChunks, RowSample, SampleError};
use std::fs::File;
use std::io::BufReader;
use std::num::NonZeroUsize;
use std::path::Path;

/// Why an embeddings file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingsFileError {
    #[error(
        "column {column:?} names a Parquet column, but {path} is read as .npy (Parquet is a \
         .parquet file or a directory of shards)"
    )]
    ColumnOnNpy { column: String, path: String },
    #[error(transparent)]
    Npy(#[from] NpyFileError),
    #[error(transparent)]
    Parquet(#[from] ParquetError),
}

/// A column only means something for Parquet: naming one for a `.npy` is a mistake to report,
/// not to ignore.
fn check_column(path: &Path, column: Option<&str>) -> Result<(), EmbeddingsFileError> {
    match column {
        Some(column) if !is_parquet_input(path) => Err(EmbeddingsFileError::ColumnOnNpy {
            column: column.to_string(),
            path: path.display().to_string(),
        }),
        _ => Ok(()),
    }
}

/// A whole embeddings file: `.npy`, or Parquet (`column`, else `embedding`, else the only
/// list-of-float column).
pub fn read_embeddings(
    path: &Path,
    column: Option<&str>,
) -> Result<Embeddings, EmbeddingsFileError> {
    check_column(path, column)?;
    if is_parquet_input(path) {
        return Ok(crate::parquet::read_embeddings(path, column)?);
    }
    Ok(crate::npy::read_embeddings(path)?)
}

/// A uniform sample of `n` rows of an embeddings file drawn with `seed`, read `chunk_rows` rows
/// at a time ([`crate::sample`]): memory holds the sample and a chunk, not the file.
pub fn sample_embeddings(
    path: &Path,
    column: Option<&str>,
    n: NonZeroUsize,
    seed: u64,
    chunk_rows: usize,
) -> Result<RowSample, SampleError<EmbeddingsFileError>> {
    let mut reader = RowReader::open(path, column).map_err(SampleError::Source)?;
    sample_rows(&mut reader, n, seed, chunk_rows)
}

/// Embeddings read a chunk of rows at a time, from `.npy` or Parquet.
pub enum RowReader {
    Npy(NpyRowReader<BufReader<File>>),
    Parquet(ParquetRowReader),
}

impl RowReader {
    /// Opens `path` as [`read_embeddings`] would read it, reading only its layout.
    pub fn open(path: &Path, column: Option<&str>) -> Result<Self, EmbeddingsFileError> {
        check_column(path, column)?;
        Ok(if is_parquet_input(path) {
            Self::Parquet(ParquetRowReader::open(path, column)?)
        } else {
            Self::Npy(NpyRowReader::open(path)?)
        })
    }

    /// Rows in the file (every shard).
    pub fn rows(&self) -> usize {
        match self {
            Self::Npy(r) => r.layout().rows,
            Self::Parquet(r) => r.layout().rows,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Self::Npy(r) => r.layout().dim,
            Self::Parquet(r) => r.layout().dim,
        }
    }

    /// The next at most `max_rows` rows and the index of the first, or `None` after the last.
    pub fn next_chunk(
        &mut self,
        max_rows: usize,
    ) -> Result<Option<(usize, Embeddings)>, EmbeddingsFileError> {
        Ok(match self {
            Self::Npy(r) => r.next_chunk(max_rows)?,
            Self::Parquet(r) => r.next_chunk(max_rows)?,
        })
    }
}

impl RowChunks for RowReader {
    type Error = EmbeddingsFileError;

    fn next_chunk(
        &mut self,
        max_rows: usize,
    ) -> Result<Option<(usize, Embeddings)>, EmbeddingsFileError> {
        RowReader::next_chunk(self, max_rows)
    }
}
