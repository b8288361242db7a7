//! The two halves of distributed ID assignment (`rqvae.ray`): each row's nearest codes with its
//! ranking of last-level codes, computed where the rows are, and collision resolution of whole
//! (A, B) prefix groups, computed wherever the group is sent. Together they give the table
//! `rqvae-train assign` gives (see `rqvae::ids::assign::resolve_group`).

use crate::arrays::Rows;
use crate::data_error;
use crate::model::Model;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;
use rqvae::ids::assign::{encode_ranked, resolve_group};
use rqvae::ids::table::Resolution;
use rqvae::Embeddings;

/// Two arrays of one function's result.
type Pair<'py, A, B> = (Bound<'py, A>, Bound<'py, B>);

/// `(codes uint16 [rows, levels], ranking uint16 [rows, codebook_size])`: the canonical codes
/// and every row's last-level codes from best to worst by the model's own scores.
#[pyfunction]
#[pyo3(name = "encode_ranked")]
pub fn encode_ranked_py<'py>(
    model: &Model,
    x: &Bound<'py, PyAny>,
) -> PyResult<Pair<'py, PyArray2<u16>, PyArray2<u16>>> {
    let py = x.py();
    let host = &model.host;
    let rows = Rows::new(x, "x", Some(host.input_dim()))?;
    let values = rows.values()?.into_owned();
    let n = rows.rows;
    let x = Embeddings::new(values, host.input_dim()).map_err(data_error)?;
    let (nearest, ranking) = py.detach(|| encode_ranked(host, &x));
    let nearest: Vec<u16> = nearest.into_iter().map(|c| c as u16).collect();
    let nearest = Array2::from_shape_vec((n, host.levels()), nearest).expect("rows × levels");
    let ranking =
        Array2::from_shape_vec((n, host.codebook_size()), ranking).expect("rows × codebook");
    Ok((nearest.into_pyarray(py), ranking.into_pyarray(py)))
}

/// Full IDs `(codes uint32 [rows, levels + 1], reassigned_from int64 [rows], -1 where not
/// moved)` for rows served in order after `existing` (full IDs `[entries, levels + 1]`), all of
/// whole (A, B) prefix groups.
#[pyfunction]
#[pyo3(name = "resolve_group")]
pub fn resolve_group_py<'py>(
    py: Python<'py>,
    levels: usize,
    codebook_size: usize,
    resolution: &str,
    existing: PyReadonlyArray2<'py, u32>,
    nearest: PyReadonlyArray2<'py, u32>,
    ranking: PyReadonlyArray2<'py, u16>,
) -> PyResult<Pair<'py, PyArray2<u32>, PyArray1<i64>>> {
    let resolution = match resolution {
        "reassign" => Resolution::Reassign,
        "suffix" => Resolution::Suffix,
        other => {
            return Err(data_error(format!(
                "resolution {other:?}: expected \"reassign\" or \"suffix\""
            )))
        }
    };
    let existing = existing.as_slice().map_err(data_error)?;
    let nearest_codes = nearest.as_slice().map_err(data_error)?;
    let ranking = ranking.as_slice().map_err(data_error)?;
    let rows = nearest.as_array().nrows();
    let placed = py
        .detach(|| {
            resolve_group(
                levels,
                codebook_size,
                resolution,
                existing,
                nearest_codes,
                ranking,
            )
        })
        .map_err(data_error)?;
    let codes = Array2::from_shape_vec((rows, levels + 1), placed.codes).expect("rows × codes");
    let from: Array1<i64> = placed
        .reassigned_from
        .iter()
        .map(|c| c.map_or(-1, i64::from))
        .collect();
    Ok((codes.into_pyarray(py), from.into_pyarray(py)))
}
