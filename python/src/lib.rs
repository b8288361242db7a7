//! The compiled half of the Python package `rqvae` (`rqvae._rqvae`): the library's model, ID
//! table and training behind PyO3 classes, so that Python gets the CLI's exact results.

mod arrays;
mod groups;
mod io;
mod model;
mod table;
mod train;

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    rqvae,
    RqvaeError,
    PyValueError,
    "Data or files rqvae cannot use (shape, values, weights, tables); a ValueError, with the Rust library's message."
);

/// An [`RqvaeError`] carrying a library error's message.
pub(crate) fn data_error(message: impl std::fmt::Display) -> PyErr {
    RqvaeError::new_err(message.to_string())
}

/// `json.loads(text)`: reports are serialised by the library, and Python gets them as dicts.
pub(crate) fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

#[pymodule]
fn _rqvae(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RqvaeError", m.py().get_type::<RqvaeError>())?;
    m.add_class::<model::Model>()?;
    m.add_class::<table::IdTable>()?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_embeddings, m)?)?;
    m.add_function(wrap_pyfunction!(groups::encode_ranked_py, m)?)?;
    m.add_function(wrap_pyfunction!(groups::resolve_group_py, m)?)?;
    Ok(())
}
