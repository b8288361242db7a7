//! `rqvae.Model`: rqvae weights with their canonical CPU encoder (the computation that defines an
//! ID, the one `rqvae-train encode` is held to), encode and decode on NumPy arrays with the GIL
//! released while Rust works.

use crate::arrays::{codes, Rows};
use crate::{data_error, json_to_py};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rqvae::ids::canonical;
use rqvae::{HostModel, ModelWeights, Precision};
use std::path::PathBuf;

/// An rqvae model: weights, and the canonical encoder built from them.
#[pyclass(module = "rqvae._rqvae", frozen)]
pub struct Model {
    pub weights: ModelWeights,
    pub host: HostModel,
}

/// An `OSError` (`FileNotFoundError`, `PermissionError`, … by its kind) naming the file.
pub fn io_error(what: &str, path: &std::path::Path, e: std::io::Error) -> PyErr {
    std::io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display())).into()
}

/// Writes `bytes` as `path`, whole or not at all (`rqvae::atomic`, as the CLI writes).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> PyResult<()> {
    rqvae::atomic::write_atomic(path, bytes).map_err(|e| io_error("write", path, e))
}

impl Model {
    pub fn from_weights(weights: ModelWeights) -> PyResult<Self> {
        let host = HostModel::new(&weights).map_err(data_error)?;
        Ok(Self { weights, host })
    }
}

fn precision(name: &str) -> PyResult<Precision> {
    match name {
        "f32" | "float32" => Ok(Precision::F32),
        "f16" | "float16" => Ok(Precision::F16),
        other => Err(PyValueError::new_err(format!(
            "precision must be \"f32\" or \"f16\", found {other:?}"
        ))),
    }
}

#[pymethods]
impl Model {
    /// Reads a `.safetensors` rqvae weights file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path).map_err(|e| io_error("read model", &path, e))?;
        let weights = ModelWeights::from_bytes(&bytes).map_err(|e| {
            data_error(format!("{}: not usable rqvae weights: {e}", path.display()))
        })?;
        Self::from_weights(weights)
    }

    /// Reads rqvae weights from the bytes of a `.safetensors` file.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let weights = ModelWeights::from_bytes(data)
            .map_err(|e| data_error(format!("not usable rqvae weights: {e}")))?;
        Self::from_weights(weights)
    }

    /// Imports a PyTorch checkpoint (a state dict saved with `torch.save`), read in Rust and
    /// never run, as `rqvae-train import` does: the known layouts are found by name, others
    /// through `key_map` (a dict with `encoder`, `codebooks`, optional `decoder`, `ignore`,
    /// `state_dict`).
    #[staticmethod]
    #[pyo3(signature = (path, key_map = None, state_dict = None, ignore = Vec::new(), no_decoder = false))]
    fn from_torch(
        py: Python<'_>,
        path: PathBuf,
        key_map: Option<Bound<'_, PyAny>>,
        state_dict: Option<String>,
        ignore: Vec<String>,
        no_decoder: bool,
    ) -> PyResult<Self> {
        use rqvae::import::{import_checkpoint, ImportOptions, KeyMap};
        let bytes = std::fs::read(&path).map_err(|e| io_error("read checkpoint", &path, e))?;
        let key_map = match key_map {
            Some(map) => {
                let json = py.import("json")?.call_method1("dumps", (map,))?;
                Some(KeyMap::from_json(&json.extract::<String>()?, "key_map").map_err(data_error)?)
            }
            None => None,
        };
        let options = ImportOptions {
            key_map,
            state_dict,
            no_decoder,
            ignore,
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let imported = py
            .detach(|| import_checkpoint(&bytes, &name, &options))
            .map_err(|e| data_error(format!("{}: cannot import: {e}", path.display())))?;
        Self::from_weights(imported.weights)
    }

    /// The weights as `.safetensors` bytes ("f32" or "f16" storage).
    #[pyo3(signature = (precision = "f32"))]
    fn to_bytes<'py>(&self, py: Python<'py>, precision: &str) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self
            .weights
            .to_bytes(self::precision(precision)?)
            .map_err(data_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the weights to a `.safetensors` file ("f32" or "f16" storage).
    #[pyo3(signature = (path, precision = "f32"))]
    fn save(&self, path: PathBuf, precision: &str) -> PyResult<()> {
        let bytes = self
            .weights
            .to_bytes(self::precision(precision)?)
            .map_err(data_error)?;
        write_atomic(&path, &bytes)
    }

    #[getter]
    fn fingerprint(&self) -> &str {
        self.host.fingerprint()
    }

    #[getter]
    fn levels(&self) -> usize {
        self.host.levels()
    }

    #[getter]
    fn codebook_size(&self) -> usize {
        self.host.codebook_size()
    }

    #[getter]
    fn input_dim(&self) -> usize {
        self.host.input_dim()
    }

    #[getter]
    fn has_decoder(&self) -> bool {
        self.host.has_decoder()
    }

    /// The model's sizes (input_dim, hidden_dims, latent_dim, levels, codebook_size) as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.weights.config.to_json())
    }

    /// The input transform the model applies before its encoder, as a dict (`kind` "center",
    /// `scale`, `mean` as a list), or None for a model that takes its inputs as they are.
    #[getter]
    fn input_transform<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = match &self.weights.input {
            Some(t) => serde_json::json!({ "kind": "center", "scale": t.scale, "mean": t.mean }),
            None => serde_json::Value::Null,
        };
        json_to_py(py, &value.to_string())
    }

    /// Semantic IDs `[rows, levels]` (uint16) of embeddings `[rows, input_dim]` (float32 or
    /// float16, C order): the canonical computation, as `rqvae-train encode` gives them.
    fn encode<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<u16>>> {
        let py = x.py();
        let rows = Rows::new(x, "x", Some(self.host.input_dim()))?;
        let values = rows.values()?;
        let (n, host) = (rows.rows, &self.host);
        let ids: Vec<u16> = py.detach(|| {
            canonical::encode_rows(host, &values, n)
                .into_iter()
                // Codebooks hold at most 65,536 codes (RqVaeConfig::validate).
                .map(|id| id as u16)
                .collect()
        });
        let ids = Array2::from_shape_vec((n, host.levels()), ids).expect("rows × levels IDs");
        Ok(ids.into_pyarray(py))
    }

    /// Reconstructions `[rows, input_dim]` (float32) of codes `[rows, levels]` (any integer
    /// dtype); an error for a model exported without its decoder.
    fn decode<'py>(&self, codes: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let py = codes.py();
        if !self.host.has_decoder() {
            return Err(data_error(rqvae::WeightsError::NoDecoder));
        }
        let (ids, n) = self::codes(codes, self.host.levels(), self.host.codebook_size())?;
        let host = &self.host;
        let values = py.detach(|| host.decode(&ids).expect("the decoder was checked above"));
        let out = Array2::from_shape_vec((n, host.input_dim()), values).expect("rows × input_dim");
        Ok(out.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        let c = &self.weights.config;
        format!(
            "Model(fingerprint={:?}, input_dim={}, levels={}, codebook_size={}, decoder={})",
            self.host.fingerprint(),
            c.input_dim,
            c.levels,
            c.codebook_size,
            self.host.has_decoder()
        )
    }
}
