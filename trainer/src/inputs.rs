//! Reading the user's files, with errors that name the file. Embeddings are a `.npy` file, or
//! Parquet (a `.parquet` file or a directory of shards) with the vectors in `--column`.

use anyhow::{Context, Result};
use rqvae::embeddings::EmbeddingsError;
use rqvae::embeddings_file::{self, RowReader};
use rqvae::sample::RowSample;
use rqvae::{Embeddings, ModelWeights};
use std::num::NonZeroUsize;
use std::path::Path;

/// A whole embeddings file: `.npy`, or Parquet (`column`, else `embedding`, else the only
/// list-of-float column).
pub fn embeddings(path: &Path, column: Option<&str>) -> Result<Embeddings> {
    Ok(embeddings_file::read_embeddings(path, column)?)
}

/// A uniform sample of `n` rows of an embeddings file drawn with `seed`, read [`CHUNK_ROWS`] rows
/// at a time (`rqvae::sample`).
pub fn sample(path: &Path, column: Option<&str>, n: NonZeroUsize, seed: u64) -> Result<RowSample> {
    Ok(embeddings_file::sample_embeddings(
        path, column, n, seed, CHUNK_ROWS,
    )?)
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

/// Embeddings read in chunks of rows, their dimension checked against the model up front.
pub fn embedding_rows_for(
    path: &Path,
    column: Option<&str>,
    weights: &ModelWeights,
) -> Result<RowReader> {
    let reader = RowReader::open(path, column)?;
    EmbeddingsError::check_dim(weights.config.input_dim, reader.dim())
        .with_context(|| format!("{}: does not fit the model", path.display()))?;
    Ok(reader)
}
