//! NumPy arrays in: the dtype, shape, layout and value checks every call makes, with errors that
//! name what was found and what is accepted, and rows borrowed without a copy where the dtype
//! allows (float32, C order).

use crate::data_error;
use half::f16;
use numpy::{
    PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rqvae::embeddings::{check_finite, EmbeddingsError};
use std::borrow::Cow;

/// The type name of a Python object, for error messages.
pub fn type_name(x: &Bound<'_, PyAny>) -> String {
    x.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A 2-D array checked for its dtype, its number of dimensions and C order; its dtype's name.
fn checked<'a, 'py>(
    x: &'a Bound<'py, PyAny>,
    what: &str,
    columns: Option<usize>,
    accepted: &str,
    accepts: impl Fn(&Bound<'py, numpy::PyArrayDescr>) -> bool,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    let array = x.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a numpy.ndarray of {accepted}, found {}",
            type_name(x)
        ))
    })?;
    let dtype = array.dtype();
    if !accepts(&dtype) {
        return Err(PyTypeError::new_err(format!(
            "{what} has dtype {dtype}; accepted: {accepted}"
        )));
    }
    if array.ndim() != 2 {
        let columns = columns.map_or("columns".to_string(), |c| c.to_string());
        return Err(data_error(format!(
            "{what} must be 2-D [rows, {columns}], found shape {:?}",
            array.shape()
        )));
    }
    if !array.is_c_contiguous() {
        return Err(data_error(format!(
            "{what} is not C-contiguous (strides {:?}): pass numpy.ascontiguousarray({what}); \
             rqvae reads arrays in place and makes no hidden copies",
            array.strides()
        )));
    }
    Ok(array)
}

/// Embedding rows: float32 borrowed in place, or float16 widened to float32 (exactly, as the CLI
/// widens a float16 `.npy`).
pub struct Rows<'py> {
    array: RowsArray<'py>,
    pub rows: usize,
    pub dim: usize,
}

enum RowsArray<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F16(PyReadonlyArray2<'py, f16>),
}

impl<'py> Rows<'py> {
    /// Reads `x` ([rows, input_dim], float32 or float16); `dim` is the model's input dimension
    /// when there is a model to fit.
    pub fn new(x: &Bound<'py, PyAny>, what: &str, dim: Option<usize>) -> PyResult<Self> {
        let py = x.py();
        let f32_type = numpy::dtype::<f32>(py);
        let f16_type = numpy::dtype::<f16>(py);
        let array = checked(x, what, dim, "float32, float16", |d| {
            d.is_equiv_to(&f32_type) || d.is_equiv_to(&f16_type)
        })?;
        let (rows, found) = (array.shape()[0], array.shape()[1]);
        if let Some(expected) = dim {
            EmbeddingsError::check_dim(expected, found).map_err(data_error)?;
        }
        let array = if array.dtype().is_equiv_to(&f32_type) {
            RowsArray::F32(
                x.cast::<PyArray2<f32>>()?
                    .try_readonly()
                    .map_err(data_error)?,
            )
        } else {
            RowsArray::F16(
                x.cast::<PyArray2<f16>>()?
                    .try_readonly()
                    .map_err(data_error)?,
            )
        };
        Ok(Self {
            array,
            rows,
            dim: found,
        })
    }

    /// The rows as float32 values, row-major, checked finite (the CLI's error for a NaN or an
    /// infinity, with its row and column): borrowed for float32, widened for float16.
    pub fn values(&self) -> PyResult<Cow<'_, [f32]>> {
        let values = match &self.array {
            RowsArray::F32(a) => Cow::Borrowed(a.as_slice().map_err(data_error)?),
            RowsArray::F16(a) => Cow::Owned(
                a.as_slice()
                    .map_err(data_error)?
                    .iter()
                    .map(|v| v.to_f32())
                    .collect(),
            ),
        };
        if self.dim > 0 {
            check_finite(&values, self.dim).map_err(data_error)?;
        }
        Ok(values)
    }
}

/// Codes `[rows, levels]` of any integer dtype, each in `0..codebook_size`, as u32.
pub fn codes(
    x: &Bound<'_, PyAny>,
    levels: usize,
    codebook_size: usize,
) -> PyResult<(Vec<u32>, usize)> {
    let accepted = "uint8, uint16, uint32, uint64, int8, int16, int32, int64";
    let array = checked(x, "codes", Some(levels), accepted, |d| {
        matches!(d.kind(), b'i' | b'u')
    })?;
    let (rows, found) = (array.shape()[0], array.shape()[1]);
    if found != levels {
        return Err(data_error(format!(
            "codes have {found} columns but the model has {levels} levels: pass [rows, {levels}]"
        )));
    }
    // numpy widens any integer dtype to int64 exactly except uint64 above i64::MAX, which the
    // range check below refuses anyway.
    let wide = x
        .call_method1("astype", ("int64",))?
        .cast_into::<PyArray2<i64>>()?;
    let wide = wide.readonly();
    let values = wide.as_slice().map_err(data_error)?;
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if v < 0 || v as u64 >= codebook_size as u64 {
            return Err(data_error(format!(
                "code {v} at row {}, level {} is outside the codebook (0..{codebook_size})",
                i / levels.max(1),
                i % levels.max(1)
            )));
        }
        out.push(v as u32);
    }
    Ok((out, rows))
}
