//! `rqvae.IdTable`: the library's ID table (which item has which ID), grown from NumPy rows by
//! the same assignment as `rqvae-train assign`, read and written in the CLI's file formats.

use crate::arrays::{type_name, Rows};
use crate::model::{io_error, Model};
use crate::{data_error, json_to_py};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyList, PyString};
use rqvae::ids::assign::{assign, AssignOptions};
use rqvae::ids::quality::table_quality;
use rqvae::ids::table::{self as ids_table, ItemId, Resolution};
use rqvae::Embeddings;
use std::path::{Path, PathBuf};

/// The file formats of a table, chosen by the file's extension.
enum TableFormat {
    /// The CLI's versioned JSON Lines (any extension but the ones below, as the CLI writes it).
    JsonLines,
    Parquet,
}

impl TableFormat {
    /// Parquet for a `.parquet` file or a directory (of shards), as the CLI decides.
    fn of(path: &Path) -> Self {
        if rqvae::parquet::is_parquet_input(path) {
            Self::Parquet
        } else {
            Self::JsonLines
        }
    }
}

/// An ID table: items in assignment order, each with its codes and disambiguation code.
#[pyclass(module = "rqvae._rqvae")]
pub struct IdTable {
    table: ids_table::IdTable,
}

fn resolution(name: &str) -> PyResult<Resolution> {
    match name {
        "reassign" => Ok(Resolution::Reassign),
        "suffix" => Ok(Resolution::Suffix),
        other => Err(PyValueError::new_err(format!(
            "resolution must be \"reassign\" or \"suffix\", found {other:?}"
        ))),
    }
}

fn resolution_name(r: Resolution) -> &'static str {
    match r {
        Resolution::Reassign => "reassign",
        Resolution::Suffix => "suffix",
    }
}

/// An item id from Python: an int (64-bit) or a str; bools and other types are refused.
fn item_id(value: &Bound<'_, PyAny>) -> PyResult<ItemId> {
    if value.is_instance_of::<PyString>() {
        return Ok(ItemId::Str(value.extract()?));
    }
    if !value.is_instance_of::<PyBool>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(ItemId::Int(i));
        }
        if value.is_instance_of::<PyInt>() {
            return Err(data_error(format!(
                "id {value} is not an integer in the 64-bit range; give it as a string"
            )));
        }
    }
    Err(PyTypeError::new_err(format!(
        "ids must be int or str, found {}",
        type_name(value)
    )))
}

fn id_to_py<'py>(py: Python<'py>, id: &ItemId) -> PyResult<Bound<'py, PyAny>> {
    Ok(match id {
        ItemId::Int(i) => i.into_pyobject(py)?.into_any(),
        ItemId::Str(s) => PyString::new(py, s).into_any(),
    })
}

#[pymethods]
impl IdTable {
    /// An empty table for `model`; `resolution` says what happens to an item whose codes are
    /// taken: "reassign" (the next free last-level code, the CLI's default) or "suffix" (the
    /// disambiguation code only, the CLI's --no-reassign).
    #[staticmethod]
    #[pyo3(signature = (model, resolution = "reassign"))]
    fn create(model: &Model, resolution: &str) -> PyResult<Self> {
        let c = &model.weights.config;
        let table = ids_table::IdTable::new(
            model.host.fingerprint(),
            c.levels,
            c.codebook_size,
            self::resolution(resolution)?,
        )
        .map_err(data_error)?;
        Ok(Self { table })
    }

    /// Reads a table written by `save` or by `rqvae-train assign` (JSON Lines).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let table = py.detach(|| match TableFormat::of(&path) {
            TableFormat::JsonLines => {
                let file =
                    std::fs::File::open(&path).map_err(|e| io_error("read ID table", &path, e))?;
                let reader = std::io::BufReader::with_capacity(1 << 20, file);
                ids_table::IdTable::read_jsonl(reader).map_err(|e| {
                    data_error(format!("{}: not a usable ID table: {e}", path.display()))
                })
            }
            TableFormat::Parquet => rqvae::ids::parquet::read_table(&path).map_err(data_error),
        })?;
        Ok(Self { table })
    }

    /// Writes the table through a temporary file: Parquet for a `.parquet` path, else JSON Lines
    /// (the CLI's formats).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| match TableFormat::of(&path) {
            TableFormat::JsonLines => {
                rqvae::atomic::write_atomic_with(&path, |out| self.table.write_jsonl(out))
                    .map_err(|e| io_error("write", &path, e))
            }
            TableFormat::Parquet => {
                rqvae::ids::parquet::write_table(&self.table, &path).map_err(data_error)
            }
        })
    }

    /// The table as JSON Lines text, as `save` writes it.
    fn to_jsonl(&self) -> String {
        self.table.to_jsonl()
    }

    /// Gives rows of `x` IDs, as `rqvae-train assign` does: `ids` (ints or strs, one per row)
    /// default to row numbers counted on from the table's size. Returns the assignment report.
    #[pyo3(signature = (model, x, ids = None, reassign_changed = false))]
    fn add<'py>(
        &mut self,
        model: &Model,
        x: &Bound<'py, PyAny>,
        ids: Option<&Bound<'py, PyAny>>,
        reassign_changed: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = x.py();
        let rows = Rows::new(x, "x", Some(model.host.input_dim()))?;
        let x = Embeddings::new(rows.values()?.into_owned(), rows.dim).map_err(data_error)?;
        let ids: Vec<ItemId> = match ids {
            None => self.table.row_number_ids(x.rows()).map_err(data_error)?,
            Some(ids) => ids
                .try_iter()?
                .map(|id| item_id(&id?))
                .collect::<PyResult<_>>()?,
        };
        let options = AssignOptions { reassign_changed };
        let (table, host) = (&mut self.table, &model.host);
        let report = py
            .detach(|| assign(table, host, &x, &ids, options))
            .map_err(data_error)?;
        json_to_py(
            py,
            &serde_json::to_string(&report).expect("a report serialises"),
        )
    }

    /// The table's quality report (usage per level, uniqueness, collisions) as a dict.
    fn quality<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let quality = table_quality(&self.table);
        json_to_py(
            py,
            &serde_json::to_string(&quality).expect("a report serialises"),
        )
    }

    /// The items' ids, in table order (ints and strs as given).
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let ids = self
            .table
            .entries()
            .map(|e| id_to_py(py, &e.id))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, ids)
    }

    /// Every item's codes and disambiguation code, `[items, levels + 1]` (uint32), in table order.
    fn codes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<u32>> {
        let width = self.table.header().levels + 1;
        let codes: Vec<u32> = self
            .table
            .entries()
            .flat_map(|e| e.codes.iter().copied())
            .collect();
        Array2::from_shape_vec((self.table.len(), width), codes)
            .expect("items × (levels + 1) codes")
            .into_pyarray(py)
    }

    /// The fingerprint of the model that made the table.
    #[getter]
    fn fingerprint(&self) -> &str {
        &self.table.header().model
    }

    #[getter]
    fn levels(&self) -> usize {
        self.table.header().levels
    }

    #[getter]
    fn codebook_size(&self) -> usize {
        self.table.header().codebook_size
    }

    #[getter]
    fn resolution(&self) -> &'static str {
        resolution_name(self.table.header().resolution)
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "IdTable(items={}, fingerprint={:?}, levels={}, resolution={:?})",
            self.table.len(),
            self.table.header().model,
            self.table.header().levels,
            resolution_name(self.table.header().resolution)
        )
    }
}
