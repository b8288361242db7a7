//! Reading the user's files, with errors that name the file. Embeddings are a `.npy` file, or
//! Parquet (a `.parquet` file or a directory of shards) with the vectors in `--column`.

use anyhow::{bail, Context, Result};
use rqvae::embeddings::EmbeddingsError;
use rqvae::npy::NpyRowReader;
use rqvae::parquet::{is_parquet_input, ParquetRowReader};
use rqvae::sample::{sample_rows, RowSample};
use rqvae::{Embeddings, ModelWeights};
use std::fs::File;
use std::io::BufReader;
use std::num::NonZeroUsize;
use std::path::Path;

/// `--column` only means something for Parquet.
fn check_column(path: &Path, column: Option<&str>) -> Result<()> {
    if let Some(column) = column {
        if !is_parquet_input(path) {
            bail!(
                "--column {column:?} names a Parquet column, but {} is read as .npy (Parquet is a \
                 .parquet file or a directory of shards)",
                path.display()
            );
        }
    }
    Ok(())
}

/// A whole embeddings file: `.npy`, or Parquet (`column`, else `embedding`, else the only
/// list-of-float column).
pub fn embeddings(path: &Path, column: Option<&str>) -> Result<Embeddings> {
    check_column(path, column)?;
    if is_parquet_input(path) {
        return Ok(rqvae::parquet::read_embeddings(path, column)?);
    }
    Ok(rqvae::npy::read_embeddings(path)?)
}

/// A uniform sample of `n` rows of an embeddings file drawn with `seed`, read [`CHUNK_ROWS`] rows
/// at a time (`rqvae::sample`).
pub fn sample(path: &Path, column: Option<&str>, n: NonZeroUsize, seed: u64) -> Result<RowSample> {
    check_column(path, column)?;
    if is_parquet_input(path) {
        let mut reader = ParquetRowReader::open(path, column)?;
        let mut source = |max_rows: usize| reader.next_chunk(max_rows);
        return Ok(sample_rows(&mut source, n, seed, CHUNK_ROWS)?);
    }
    let mut reader = NpyRowReader::open(path)?;
    Ok(sample_rows(&mut reader, n, seed, CHUNK_ROWS)?)
}

pub fn model(path: &Path) -> Result<ModelWeights> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
    ModelWeights::from_bytes(&bytes)
        .with_context(|| format!("{}: not usable rqvae weights", path.display()))
}

/// Embeddings checked against the model's input dimension.
pub fn embeddings_for(
    path: &Path,
    column: Option<&str>,
    weights: &ModelWeights,
) -> Result<Embeddings> {
    let x = embeddings(path, column)?;
    x.expect_dim(weights.config.input_dim)
        .with_context(|| format!("{}: does not fit the model", path.display()))?;
    Ok(x)
}

/// Rows read, encoded and written at a time: memory is bounded by this, not by the file
/// (16,384 rows of 768-d are 50 MB as f32).
pub const CHUNK_ROWS: usize = 16_384;

/// Embeddings read a chunk of rows at a time, from `.npy` or Parquet.
pub enum RowReader {
    Npy(NpyRowReader<BufReader<File>>),
    Parquet(ParquetRowReader),
}

impl RowReader {
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
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<(usize, Embeddings)>> {
        Ok(match self {
            Self::Npy(r) => r.next_chunk(max_rows)?,
            Self::Parquet(r) => r.next_chunk(max_rows)?,
        })
    }
}

/// Embeddings read in chunks of rows, their dimension checked against the model up front.
pub fn embedding_rows_for(
    path: &Path,
    column: Option<&str>,
    weights: &ModelWeights,
) -> Result<RowReader> {
    check_column(path, column)?;
    let reader = if is_parquet_input(path) {
        RowReader::Parquet(ParquetRowReader::open(path, column)?)
    } else {
        RowReader::Npy(NpyRowReader::open(path)?)
    };
    EmbeddingsError::check_dim(weights.config.input_dim, reader.dim())
        .with_context(|| format!("{}: does not fit the model", path.display()))?;
    Ok(reader)
}
