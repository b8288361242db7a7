//! A validated row-major matrix of item embeddings, the input of every model call.

/// Why a matrix of embeddings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EmbeddingsError {
    #[error("no embeddings: the input has 0 rows")]
    Empty,
    #[error("embedding dimension must be at least 1")]
    ZeroDim,
    #[error("{len} values are not a whole number of rows of dimension {dim} ({rem} left over)")]
    Ragged { len: usize, dim: usize, rem: usize },
    #[error("row {row}, column {col} is {value}: embeddings must be finite numbers")]
    NonFinite { row: usize, col: usize, value: f32 },
    #[error("embedding dimension is {found} but the model expects {expected}")]
    DimMismatch { expected: usize, found: usize },
}

impl EmbeddingsError {
    /// Fails unless `found` is the dimension a model expects (also for rows not yet read).
    pub fn check_dim(expected: usize, found: usize) -> Result<(), EmbeddingsError> {
        if found == expected {
            Ok(())
        } else {
            Err(EmbeddingsError::DimMismatch { expected, found })
        }
    }
}

/// Fails at the first non-finite value of row-major rows of `dim`, with its position, as
/// [`Embeddings::new`] does: for rows borrowed from elsewhere (a NumPy array) that are checked in
/// place instead of copied.
pub fn check_finite(data: &[f32], dim: usize) -> Result<(), EmbeddingsError> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(pos) => Err(EmbeddingsError::NonFinite {
            row: pos / dim,
            col: pos % dim,
            value: data[pos],
        }),
        None => Ok(()),
    }
}

/// `rows × dim` f32 values, row-major, all finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    data: Vec<f32>,
    rows: usize,
    dim: usize,
}

impl Embeddings {
    /// Checks shape and finiteness; the first non-finite value is reported with its position.
    pub fn new(data: Vec<f32>, dim: usize) -> Result<Self, EmbeddingsError> {
        if dim == 0 {
            return Err(EmbeddingsError::ZeroDim);
        }
        if data.is_empty() {
            return Err(EmbeddingsError::Empty);
        }
        let rem = data.len() % dim;
        if rem != 0 {
            return Err(EmbeddingsError::Ragged {
                len: data.len(),
                dim,
                rem,
            });
        }
        check_finite(&data, dim)?;
        let rows = data.len() / dim;
        Ok(Self { data, rows, dim })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The given rows, in that order, row-major.
    pub fn gather(&self, rows: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * self.dim);
        for &r in rows {
            out.extend_from_slice(self.row(r));
        }
        out
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Fails unless rows have the dimension a model expects.
    pub fn expect_dim(&self, expected: usize) -> Result<(), EmbeddingsError> {
        EmbeddingsError::check_dim(expected, self.dim)
    }

    /// Rows `start..end` as a new matrix (used to batch encoding).
    pub fn slice_rows(&self, start: usize, end: usize) -> &[f32] {
        &self.data[start * self.dim..end * self.dim]
    }
}
