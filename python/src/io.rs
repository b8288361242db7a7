//! `rqvae.read_embeddings`: a `.npy` file or Parquet (a file or a directory of shards) read by
//! the CLI's readers, with their errors (file, row, column, expected vs found).

use crate::data_error;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::prelude::*;
use std::path::PathBuf;

/// Embeddings `[rows, dim]` (float32) from `.npy` or Parquet; `column` names the Parquet column
/// (default: `embedding`, else the only list-of-float column).
#[pyfunction]
#[pyo3(signature = (path, column = None))]
pub fn read_embeddings<'py>(
    py: Python<'py>,
    path: PathBuf,
    column: Option<&str>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let x = py
        .detach(|| rqvae::embeddings_file::read_embeddings(&path, column))
        .map_err(data_error)?;
    let (rows, dim) = (x.rows(), x.dim());
    let out = Array2::from_shape_vec((rows, dim), x.into_vec()).expect("rows × dim");
    Ok(out.into_pyarray(py))
}
