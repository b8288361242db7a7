//! Reading the user's files, with errors that name the file.

use anyhow::{Context, Result};
use rqvae::embeddings::EmbeddingsError;
use rqvae::npy::NpyRowReader;
use rqvae::{Embeddings, ModelWeights};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

pub fn embeddings(path: &Path) -> Result<Embeddings> {
    Ok(rqvae::npy::read_embeddings(path)?)
}

pub fn model(path: &Path) -> Result<ModelWeights> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
    ModelWeights::from_bytes(&bytes)
        .with_context(|| format!("{}: not usable rqvae weights", path.display()))
}

/// Embeddings checked against the model's input dimension.
pub fn embeddings_for(path: &Path, weights: &ModelWeights) -> Result<Embeddings> {
    let x = embeddings(path)?;
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
    weights: &ModelWeights,
) -> Result<NpyRowReader<BufReader<File>>> {
    let reader = NpyRowReader::open(path)?;
    let found = reader.layout().dim;
    EmbeddingsError::check_dim(weights.config.input_dim, found)
        .with_context(|| format!("{}: does not fit the model", path.display()))?;
    Ok(reader)
}
