//! `rqvae.train`: training by the CLI's recipe names (or a recipe given as JSON) on NumPy rows
//! or a file (`.npy` or Parquet, whole or a streamed sample), with the CLI's CPU engine; the GIL
//! is released during each epoch and Ctrl-C is honoured between epochs.

use crate::arrays::Rows;
use crate::data_error;
use crate::model::Model;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rqvae::embeddings::EmbeddingsError;
use rqvae::embeddings_file;
use rqvae::sample::sample_rows;
use rqvae::train::{CpuDevice, CpuEngine, TrainConfig, Trainer};
use rqvae::{Embeddings, RqVaeConfig};
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// The recipe names of `rqvae-train train --recipe`.
const RECIPES: &[&str] = &[
    "reference",
    "semantic-ids",
    "collision-fine-tune",
    "balanced-fine-tune",
];

/// Rows read (and sampled) at a time from a file or an array: what `rqvae-train train --sample`
/// streams with. The sample does not depend on it (`rqvae::sample`).
const CHUNK_ROWS: usize = 16_384;

/// The rows to train on: an array, or the path of a `.npy` file or of Parquet (a `.parquet` file
/// or a directory of shards, vectors in `column`), read as the CLI reads them; with `sample`, a
/// uniform sample of that many rows drawn with `seed` as `rqvae-train train --sample` draws it
/// (the same rows for an array as for a `.npy` of it), the file streamed rather than read whole.
fn training_rows(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    column: Option<&str>,
    sample: Option<usize>,
    seed: u64,
) -> PyResult<Embeddings> {
    let sample = match sample {
        Some(0) => {
            return Err(PyValueError::new_err(
                "sample needs at least 1 row, found 0",
            ))
        }
        other => other.and_then(NonZeroUsize::new),
    };
    if let Ok(path) = x.extract::<PathBuf>() {
        return py.detach(|| match sample {
            Some(n) => embeddings_file::sample_embeddings(&path, column, n, seed, CHUNK_ROWS)
                .map(|s| s.rows)
                .map_err(data_error),
            None => embeddings_file::read_embeddings(&path, column).map_err(data_error),
        });
    }
    if let Some(column) = column {
        return Err(PyValueError::new_err(format!(
            "column {column:?} names a Parquet column, but x is an array, not a file"
        )));
    }
    let rows = Rows::new(x, "x", None)?;
    let values = rows.values()?;
    let Some(n) = sample else {
        return Embeddings::new(values.into_owned(), rows.dim).map_err(data_error);
    };
    let (dim, total) = (rows.dim, rows.rows);
    py.detach(|| {
        let mut next = 0;
        let mut chunks = |max_rows: usize| -> Result<Option<(usize, Embeddings)>, EmbeddingsError> {
            if next >= total {
                return Ok(None);
            }
            let (first, end) = (next, (next + max_rows).min(total));
            next = end;
            let chunk = Embeddings::new(values[first * dim..end * dim].to_vec(), dim)?;
            Ok(Some((first, chunk)))
        };
        sample_rows(&mut chunks, n, seed, CHUNK_ROWS)
            .map(|s| s.rows)
            .map_err(data_error)
    })
}

/// The recipe as the CLI builds it from `--recipe` or `--train-config`, then the overrides.
fn recipe(
    name: Option<&str>,
    json: Option<&str>,
    fine_tuning: bool,
    epochs: Option<usize>,
) -> PyResult<TrainConfig> {
    if let Some(json) = json {
        return serde_json::from_str(json)
            .map_err(|e| data_error(format!("not a usable training recipe: {e}")));
    }
    let name = name.unwrap_or("reference");
    let needs_model = |name: &str| {
        if fine_tuning {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "recipe {name:?} fine-tunes a trained model: give it with init_from=Model"
            )))
        }
    };
    Ok(match name {
        "reference" => TrainConfig::reference(),
        "semantic-ids" => TrainConfig::semantic_ids(epochs.unwrap_or(2000)),
        "collision-fine-tune" => {
            needs_model(name)?;
            TrainConfig::collision_fine_tune(epochs.unwrap_or(400))
        }
        "balanced-fine-tune" => {
            needs_model(name)?;
            TrainConfig::balanced_fine_tune(epochs.unwrap_or(400))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown recipe {other:?}; the recipes are {}",
                RECIPES.join(", ")
            )))
        }
    })
}

/// The model's sizes: `config_json` (RqVaeConfig fields; input_dim defaults to the data's) or
/// the reference architecture for the data's dimension.
fn model_config(config_json: Option<&str>, x: &Embeddings) -> PyResult<RqVaeConfig> {
    let Some(json) = config_json else {
        return Ok(RqVaeConfig::with_input_dim(x.dim()));
    };
    let mut value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| data_error(format!("config is not valid JSON: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        map.entry("input_dim").or_insert(x.dim().into());
    }
    let config = RqVaeConfig::from_json(&value.to_string()).map_err(data_error)?;
    if config.input_dim != x.dim() {
        return Err(data_error(format!(
            "config sets input_dim {} but the data has dimension {}",
            config.input_dim,
            x.dim()
        )));
    }
    Ok(config)
}

/// Trains a model (the work behind `rqvae.train`; dicts arrive here as JSON).
#[pyfunction]
#[pyo3(signature = (
    x, recipe = None, recipe_json = None, seed = None, epochs = None, batch_size = None,
    lr = None, config_json = None, init_from = None, sample = None, column = None
))]
#[allow(clippy::too_many_arguments)]
pub fn train(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    recipe: Option<&str>,
    recipe_json: Option<&str>,
    seed: Option<u64>,
    epochs: Option<usize>,
    batch_size: Option<usize>,
    lr: Option<f64>,
    config_json: Option<&str>,
    init_from: Option<&Model>,
    sample: Option<usize>,
    column: Option<&str>,
) -> PyResult<Model> {
    let mut train = self::recipe(recipe, recipe_json, init_from.is_some(), epochs)?;
    if let Some(v) = epochs {
        train.epochs = v;
    }
    if let Some(v) = batch_size {
        train.batch_size = v;
    }
    if let Some(v) = lr {
        train.lr = v;
    }
    if let Some(v) = seed {
        train.seed = v;
    }
    // As the CLI: the recipe's seed (after `seed`) also draws the sample.
    let x = training_rows(py, x, column, sample, train.seed)?;
    let mut trainer = match init_from {
        Some(model) => {
            if config_json.is_some() {
                return Err(PyValueError::new_err(
                    "config and init_from exclude each other: a fine-tuned model keeps its sizes",
                ));
            }
            let weights = &model.weights;
            if weights.config.input_dim != x.dim() {
                return Err(data_error(format!(
                    "init_from is a model of {}-d embeddings but the data has dimension {}",
                    weights.config.input_dim,
                    x.dim()
                )));
            }
            py.detach(|| Trainer::<CpuEngine>::fine_tune(weights, train.clone(), &x, &CpuDevice))
        }
        None => {
            let config = model_config(config_json, &x)?;
            py.detach(|| Trainer::<CpuEngine>::new(config, train.clone(), &x, &CpuDevice))
        }
    }
    .map_err(data_error)?;
    while trainer.epochs_done < train.epochs {
        py.check_signals()?;
        let t = &mut trainer;
        py.detach(|| t.run_epoch());
    }
    Model::from_weights(trainer.weights())
}
