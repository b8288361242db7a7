//! A model card (`model.json`): what a weights file holds, in a small JSON file that travels with
//! the IDs it made, so that a recommender's training data records which model made its item
//! tokens (the fingerprint an ID table records), how large it is and how good.
//!
//! ```text
//! {"format":"rqvae-model-card","version":1,"model":"sha256:…",
//!  "config":{"input_dim":768,"hidden_dims":[512,256,128],"latent_dim":32,"levels":3,"codebook_size":256},
//!  "parameters":{"encoder":…,"codebooks":24576,"decoder":…,"total":…},
//!  "precision":"f16","decoder":true,["input_transform":{"kind":"center","scale":2.7},]"metadata":{"source":{…}},"metrics":{…}|null,"run":{…}|null}
//! ```

use crate::config::RqVaeConfig;
use crate::ids::fingerprint::model_fingerprint;
use crate::metrics::Metrics;
use crate::weights::{LayerWeights, ModelWeights, WeightsError};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const CARD_FORMAT: &str = "rqvae-model-card";
pub const CARD_VERSION: u32 = 1;

/// The metadata entries every weights file has, which the card gives in its own fields.
const FORMAT_KEYS: [&str; 3] = ["format", "format_version", "config"];

/// A model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub version: u32,
    /// [`model_fingerprint`]: the `model` of every ID table the model made.
    pub model: String,
    pub config: RqVaeConfig,
    pub parameters: ParameterCounts,
    /// How the file stores its weights (computation is always f32).
    pub precision: StoredPrecision,
    pub decoder: bool,
    /// The input transform applied before the encoder ([`crate::input_transform`]); absent for
    /// a model that takes its inputs as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transform: Option<CardInputTransform>,
    /// The file's other metadata entries (an imported model's `source`), each parsed as JSON
    /// where it is JSON, else the string as stored.
    pub metadata: Map<String, Value>,
    /// The quality metrics on some embeddings (`rqvae-train eval`'s), when they were measured.
    pub metrics: Option<Metrics>,
    /// What the training run recorded (its recipe), when it was given.
    pub run: Option<Value>,
}

/// Parameters (weights and biases, codebook entries) per part of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterCounts {
    pub encoder: usize,
    pub codebooks: usize,
    /// `None` for a file without a decoder (enough to assign IDs).
    pub decoder: Option<usize>,
    pub total: usize,
}

/// What the card says of an input transform: its kind and scale (the mean is in the weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardInputTransform {
    /// `"center"`: inputs centred on the training data's mean, then scaled.
    pub kind: String,
    pub scale: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredPrecision {
    F32,
    F16,
    /// Some tensors F32, some F16 (a file written by hand; `rqvae` writes one dtype).
    Mixed,
}

impl ModelCard {
    /// The card of a weights file, and its weights (checked as loading checks them). Metrics
    /// and run are left empty.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, ModelWeights), WeightsError> {
        let weights = ModelWeights::from_bytes(bytes)?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| WeightsError::NotSafetensors(e.to_string()))?;
        // The input transform is F32 in every file; the precision is the network's.
        let dtypes: Vec<Dtype> = header
            .tensors()
            .iter()
            .filter(|(name, _)| !name.starts_with("input."))
            .map(|(_, t)| t.dtype)
            .collect();
        let precision = if dtypes.iter().all(|&d| d == Dtype::F16) {
            StoredPrecision::F16
        } else if dtypes.iter().all(|&d| d == Dtype::F32) {
            StoredPrecision::F32
        } else {
            StoredPrecision::Mixed
        };
        let mut metadata = Map::new();
        let mut entries: Vec<(&String, &String)> = header
            .metadata()
            .iter()
            .flatten()
            .filter(|(k, _)| !FORMAT_KEYS.contains(&k.as_str()))
            .collect();
        entries.sort();
        for (key, text) in entries {
            let value = serde_json::from_str(text).unwrap_or_else(|_| Value::from(text.as_str()));
            metadata.insert(key.clone(), value);
        }
        let count = |layers: &[LayerWeights]| -> usize {
            layers.iter().map(|l| l.weight.len() + l.bias.len()).sum()
        };
        let encoder = count(&weights.encoder);
        let codebooks = weights.codebooks.iter().map(Vec::len).sum();
        let decoder = weights.decoder.as_deref().map(count);
        let card = Self {
            format: CARD_FORMAT.into(),
            version: CARD_VERSION,
            model: model_fingerprint(&weights),
            config: weights.config.clone(),
            parameters: ParameterCounts {
                encoder,
                codebooks,
                decoder,
                total: encoder + codebooks + decoder.unwrap_or(0),
            },
            precision,
            decoder: weights.decoder.is_some(),
            input_transform: weights.input.as_ref().map(|t| CardInputTransform {
                kind: "center".into(),
                scale: t.scale,
            }),
            metadata,
            metrics: None,
            run: None,
        };
        Ok((card, weights))
    }

    /// The card as pretty-printed JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a card serialises");
        text.push('\n');
        text
    }
}
