//! The text-model bundle: a sentence encoder in one file, for the browser (format version 1).
//!
//! A sentence-transformers directory is five files in three folders; a page wants one download.
//! The bundle is a `.safetensors` file whose tensors are the encoder's, under their Hugging Face
//! names and PyTorch layout, in F16 (half the bytes; the computation is f32), and whose metadata
//! holds the rest:
//!
//! | key | value |
//! |---|---|
//! | `format` | `"rqvae-text"` |
//! | `format_version` | `"1"` |
//! | `config` | the [`TextModelConfig`] as JSON (BERT sizes, pooling, normalisation, max length) |
//! | `tokenizer` | the model's `tokenizer.json`, as it was read |
//! | `source` | where the weights came from (free text) |

use super::config::TextModelConfig;
use super::error::TextModelError;
use super::weights::BertWeights;
use half::f16;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

pub const BUNDLE_FORMAT: &str = crate::weights::TEXT_BUNDLE_FORMAT;
pub const BUNDLE_VERSION: &str = "1";

/// What a bundle holds.
pub struct Bundle {
    pub config: TextModelConfig,
    pub tokenizer_json: String,
    pub weights: BertWeights,
    pub source: String,
}

/// The bundle's bytes: F16 tensors and the metadata above.
pub fn write_bundle(
    config: &TextModelConfig,
    tokenizer_json: &str,
    weights: &BertWeights,
    source: &str,
) -> Vec<u8> {
    let tensors = weights.named_tensors(&config.bert);
    let encoded: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| {
            v.iter()
                .flat_map(|&x| f16::from_f32(x).to_le_bytes())
                .collect()
        })
        .collect();
    let views = tensors
        .iter()
        .zip(&encoded)
        .map(|((name, shape, _), bytes)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F16, shape.clone(), bytes)
                .expect("shapes and byte counts agree by construction");
            (name.clone(), view)
        });
    let metadata = HashMap::from([
        ("format".to_string(), BUNDLE_FORMAT.to_string()),
        ("format_version".to_string(), BUNDLE_VERSION.to_string()),
        (
            "config".to_string(),
            serde_json::to_string(config).expect("a config serialises"),
        ),
        ("tokenizer".to_string(), tokenizer_json.to_string()),
        ("source".to_string(), source.to_string()),
    ]);
    safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation")
}

/// Reads a bundle; `file` names it in errors.
pub fn read_bundle(bytes: &[u8], file: &str) -> Result<Bundle, TextModelError> {
    let not = |reason: String| TextModelError::NotBundle {
        file: file.into(),
        reason,
    };
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| TextModelError::NotSafetensors {
            file: file.into(),
            reason: e.to_string(),
        })?;
    let meta = meta.metadata().clone().unwrap_or_default();
    match meta.get("format").map(String::as_str) {
        Some(BUNDLE_FORMAT) => {}
        Some("rqvae") => {
            return Err(not(
                "it is an RQ-VAE weights file (format \"rqvae\"), not a text model".into(),
            ))
        }
        other => {
            return Err(not(format!(
                "metadata format is {other:?}, expected \"{BUNDLE_FORMAT}\""
            )))
        }
    }
    match meta.get("format_version").map(String::as_str) {
        Some(BUNDLE_VERSION) => {}
        other => {
            return Err(not(format!(
                "format_version {other:?}; this build reads version {BUNDLE_VERSION}"
            )))
        }
    }
    let config: TextModelConfig = serde_json::from_str(
        meta.get("config")
            .ok_or_else(|| not("no 'config' entry".into()))?,
    )
    .map_err(|e| not(format!("its config is not usable: {e}")))?;
    let tokenizer_json = meta
        .get("tokenizer")
        .ok_or_else(|| not("no 'tokenizer' entry".into()))?
        .clone();
    let weights = BertWeights::from_safetensors(bytes, file, &config.bert)?;
    Ok(Bundle {
        config,
        tokenizer_json,
        weights,
        source: meta.get("source").cloned().unwrap_or_default(),
    })
}
