//! The weights format shared by the trainer, the browser and the tests (format versions 1 and 2).
//!
//! One `.safetensors` file. Metadata: `format` = `"rqvae"`, `format_version` = `"1"` or `"2"`,
//! `config` = the [`RqVaeConfig`] as JSON. Tensors, row-major, the network's all F32 or all F16:
//!
//! | name | shape |
//! |---|---|
//! | `input.mean`, `input.scale` | `[input_dim]`, `[1]`: the input transform (version 2 only, always F32) |
//! | `encoder.layers.{i}.weight` | `[in, out]` (y = x · W + b) |
//! | `encoder.layers.{i}.bias` | `[out]` |
//! | `quantizer.codebooks.{l}` | `[codebook_size, latent_dim]` |
//! | `decoder.layers.{i}.weight` / `.bias` | as the encoder's, latent to input (optional) |
//!
//! Version 2 is version 1 plus the input transform ([`crate::input_transform`]); a model without
//! one is written as version 1, byte for byte as before. The transform stays F32 in an F16 file:
//! its mean is subtracted from inputs close to it, where F16's rounding would be an error many
//! times the weights'. The decoder is optional: a browser that only assigns IDs needs the
//! encoder and codebooks.

use crate::config::{ConfigError, RqVaeConfig};
use crate::input_transform::{InputTransform, InputTransformError};
use crate::model::{Mlp, RqVae};
use crate::quantizer::ResidualQuantizer;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use half::f16;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

pub const FORMAT_NAME: &str = "rqvae";
/// The `format` of a text model bundle (`text::bundle`), named here so that RQ-VAE loading can
/// tell a user who gave one where it belongs.
pub const TEXT_BUNDLE_FORMAT: &str = "rqvae-text";
/// The newest format version this build writes and reads (it reads every older one).
pub const FORMAT_VERSION: u32 = 2;
/// The version written for a model without an input transform.
const PLAIN_FORMAT_VERSION: u32 = 1;
const INPUT_MEAN: &str = "input.mean";
const INPUT_SCALE: &str = "input.scale";

/// Storage precision of a weights file. Computation is always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
}

/// Why bytes are not usable weights for an RQ-VAE.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("not a safetensors file: {0}")]
    NotSafetensors(String),
    #[error("not an rqvae weights file: metadata has no format = \"rqvae\" (found {0:?})")]
    NotRqvae(Option<String>),
    #[error("this is a text model bundle (format \"rqvae-text\"): it goes where a text model does (--text-model, SentenceEncoder)")]
    TextModel,
    #[error("weights format version {found} is not supported (this build reads versions 1 to {FORMAT_VERSION})")]
    Version { found: String },
    #[error("weights metadata has no 'config' entry")]
    MissingConfig,
    #[error("weights config: {0}")]
    Config(#[from] ConfigError),
    #[error("tensor '{0}' is missing")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {found:?} but the config needs {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor '{name}' has dtype {found}; only F32 and F16 are supported")]
    Dtype { name: String, found: String },
    #[error("tensor '{0}' holds NaN or infinite values")]
    NonFinite(String),
    #[error("unexpected tensor '{0}': not part of this config's model")]
    Unexpected(String),
    #[error("model has no decoder: export it with the decoder to reconstruct vectors")]
    NoDecoder,
    #[error("could not serialise weights: {0}")]
    Serialize(String),
    #[error("{0}")]
    InputTransform(#[from] InputTransformError),
}

/// A dense layer on the host: `weight` is `[in, out]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// All parameters of a model on the host, independent of any backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelWeights {
    pub config: RqVaeConfig,
    /// Applied to every input before the encoder, undone after the decoder; `None` in models
    /// of format version 1.
    pub input: Option<InputTransform>,
    pub encoder: Vec<LayerWeights>,
    /// One `[codebook_size × latent_dim]` row-major block per level.
    pub codebooks: Vec<Vec<f32>>,
    pub decoder: Option<Vec<LayerWeights>>,
}

fn layer_names(prefix: &str, i: usize) -> (String, String) {
    (
        format!("{prefix}.layers.{i}.weight"),
        format!("{prefix}.layers.{i}.bias"),
    )
}

fn codebook_name(level: usize) -> String {
    format!("quantizer.codebooks.{level}")
}

fn tensor_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("converted to f32")
}

fn mlp_weights<B: Backend>(mlp: &Mlp<B>) -> Vec<LayerWeights> {
    mlp.layers
        .iter()
        .map(|layer| LayerWeights {
            weight: tensor_vec(layer.weight.val()),
            bias: layer
                .bias
                .as_ref()
                .map(|b| tensor_vec(b.val()))
                .unwrap_or_default(),
        })
        .collect()
}

fn mlp_from<B: Backend>(layers: &[LayerWeights], widths: &[usize], device: &B::Device) -> Mlp<B> {
    Mlp::from_tensors(
        layers
            .iter()
            .zip(widths.windows(2))
            .map(|(layer, w)| {
                (
                    Tensor::from_data(TensorData::new(layer.weight.clone(), [w[0], w[1]]), device),
                    Tensor::from_data(TensorData::new(layer.bias.clone(), [w[1]]), device),
                )
            })
            .collect(),
    )
}

/// The same safetensors bytes with the header's keys in sorted order. `safetensors` writes the
/// metadata in `HashMap` order, which differs from process to process, so two runs that end
/// with the same weights would otherwise write different files. Same keys, same values: the
/// header keeps its length and the data its offsets.
fn sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let entries: std::collections::BTreeMap<_, _> =
                    map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(entries.into_iter().collect())
            }
            other => other,
        }
    }
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + len]).expect("safetensors wrote valid JSON");
    let text = serde_json::to_string(&sorted(header)).expect("JSON serialises");
    assert!(
        text.len() <= len,
        "a reordered header is no longer than the original"
    );
    bytes[8..8 + len].fill(b' ');
    bytes[8..8 + text.len()].copy_from_slice(text.as_bytes());
    bytes
}

impl ModelWeights {
    /// Copies a model's parameters to the host (native backends; reads tensors synchronously).
    pub fn from_model<B: Backend>(model: &RqVae<B>, config: &RqVaeConfig) -> Self {
        Self {
            config: config.clone(),
            input: model.input.clone(),
            encoder: mlp_weights(&model.encoder),
            codebooks: model
                .quantizer
                .codebooks
                .iter()
                .map(|c| tensor_vec(c.val()))
                .collect(),
            decoder: model.decoder.as_ref().map(mlp_weights),
        }
    }

    /// Builds the model on `device`.
    pub fn to_model<B: Backend>(&self, device: &B::Device) -> RqVae<B> {
        let c = &self.config;
        let codebooks = self
            .codebooks
            .iter()
            .map(|values| {
                Tensor::from_data(
                    TensorData::new(values.clone(), [c.codebook_size, c.latent_dim]),
                    device,
                )
            })
            .collect();
        RqVae {
            input: self.input.clone(),
            encoder: mlp_from(&self.encoder, &c.encoder_widths(), device),
            quantizer: ResidualQuantizer::from_codebooks(codebooks),
            decoder: self
                .decoder
                .as_ref()
                .map(|d| mlp_from(d, &c.decoder_widths(), device)),
        }
    }

    /// The same weights without the decoder (encoder and codebooks suffice to assign IDs).
    pub fn without_decoder(mut self) -> Self {
        self.decoder = None;
        self
    }

    /// The encoder, and the decoder if present, with their tensor-name prefix and layer widths.
    fn mlps(&self) -> impl Iterator<Item = (&'static str, &Vec<LayerWeights>, Vec<usize>)> {
        let c = &self.config;
        std::iter::once(("encoder", &self.encoder, c.encoder_widths())).chain(
            self.decoder
                .as_ref()
                .map(|d| ("decoder", d, c.decoder_widths())),
        )
    }

    /// Fails unless every layer and codebook has the size the config gives it.
    pub(crate) fn check_shapes(&self) -> Result<(), WeightsError> {
        let c = &self.config;
        let shape_err = |name: String, expected: Vec<usize>, found: usize| WeightsError::Shape {
            name,
            expected,
            found: vec![found],
        };
        if let Some(input) = &self.input {
            InputTransform::new(input.mean.clone(), input.scale, c.input_dim)?;
        }
        for (prefix, layers, widths) in self.mlps() {
            if layers.len() != widths.len() - 1 {
                return Err(WeightsError::Config(ConfigError::Json(format!(
                    "{prefix} has {} layers but the config describes {}",
                    layers.len(),
                    widths.len() - 1
                ))));
            }
            for (i, (layer, w)) in layers.iter().zip(widths.windows(2)).enumerate() {
                let (wn, bn) = layer_names(prefix, i);
                if layer.weight.len() != w[0] * w[1] {
                    return Err(shape_err(wn, vec![w[0], w[1]], layer.weight.len()));
                }
                if layer.bias.len() != w[1] {
                    return Err(shape_err(bn, vec![w[1]], layer.bias.len()));
                }
            }
        }
        if self.codebooks.len() != c.levels {
            return Err(WeightsError::Config(ConfigError::Json(format!(
                "{} codebooks but the config describes {} levels",
                self.codebooks.len(),
                c.levels
            ))));
        }
        for (level, values) in self.codebooks.iter().enumerate() {
            if values.len() != c.codebook_size * c.latent_dim {
                return Err(shape_err(
                    codebook_name(level),
                    vec![c.codebook_size, c.latent_dim],
                    values.len(),
                ));
            }
        }
        Ok(())
    }

    /// Serialises to safetensors bytes at `precision`.
    pub fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightsError> {
        self.to_bytes_with_metadata(precision, &[])
    }

    /// [`Self::to_bytes`] with more metadata entries (an imported model's `source`). Readers
    /// ignore entries they do not know; the fingerprint covers the weights only.
    pub fn to_bytes_with_metadata(
        &self,
        precision: Precision,
        extra: &[(&str, String)],
    ) -> Result<Vec<u8>, WeightsError> {
        self.check_shapes()?;
        let c = &self.config;
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
        for (prefix, layers, widths) in self.mlps() {
            for (i, (layer, w)) in layers.iter().zip(widths.windows(2)).enumerate() {
                let (wn, bn) = layer_names(prefix, i);
                tensors.push((wn, vec![w[0], w[1]], &layer.weight[..]));
                tensors.push((bn, vec![w[1]], &layer.bias[..]));
            }
        }
        for (level, values) in self.codebooks.iter().enumerate() {
            tensors.push((
                codebook_name(level),
                vec![c.codebook_size, c.latent_dim],
                &values[..],
            ));
        }
        let network_dtype = match precision {
            Precision::F32 => Dtype::F32,
            Precision::F16 => Dtype::F16,
        };
        let mut dtypes = vec![network_dtype; tensors.len()];
        let scale;
        if let Some(input) = &self.input {
            scale = [input.scale];
            tensors.insert(0, (INPUT_MEAN.into(), vec![c.input_dim], &input.mean[..]));
            tensors.insert(1, (INPUT_SCALE.into(), vec![1], &scale[..]));
            dtypes.splice(0..0, [Dtype::F32, Dtype::F32]);
        }
        let encoded: Vec<Vec<u8>> = tensors
            .iter()
            .zip(&dtypes)
            .map(|((_, _, v), dtype)| match dtype {
                Dtype::F16 => v
                    .iter()
                    .flat_map(|&x| f16::from_f32(x).to_le_bytes())
                    .collect(),
                _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            })
            .collect();
        let views = tensors
            .iter()
            .zip(&encoded)
            .zip(&dtypes)
            .map(|(((name, shape, _), bytes), &dtype)| {
                safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| WeightsError::Serialize(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let version = if self.input.is_some() {
            FORMAT_VERSION
        } else {
            PLAIN_FORMAT_VERSION
        };
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT_NAME.to_string()),
            ("format_version".to_string(), version.to_string()),
            ("config".to_string(), c.to_json()),
        ]);
        for (key, value) in extra {
            metadata.insert(key.to_string(), value.clone());
        }
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| WeightsError::Serialize(e.to_string()))
            .map(sorted_header)
    }

    /// Parses and checks safetensors bytes: format, version, config, and every tensor's presence,
    /// dtype, shape and finiteness. Unknown tensors are an error, so a file for another model is
    /// never half-loaded.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightsError> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| WeightsError::NotSafetensors(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let format = meta.get("format").cloned();
        if format.as_deref() == Some(TEXT_BUNDLE_FORMAT) {
            return Err(WeightsError::TextModel);
        }
        if format.as_deref() != Some(FORMAT_NAME) {
            return Err(WeightsError::NotRqvae(format));
        }
        let version = meta.get("format_version").cloned().unwrap_or_default();
        let has_input = match version.parse::<u32>() {
            Ok(PLAIN_FORMAT_VERSION) if version == "1" => false,
            Ok(FORMAT_VERSION) if version == "2" => true,
            _ => return Err(WeightsError::Version { found: version }),
        };
        let config =
            RqVaeConfig::from_json(meta.get("config").ok_or(WeightsError::MissingConfig)?)?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| WeightsError::NotSafetensors(e.to_string()))?;

        let mut expected_names = Vec::new();
        let mut read = |name: String, shape: Vec<usize>| -> Result<Vec<f32>, WeightsError> {
            let view = st
                .tensor(&name)
                .map_err(|_| WeightsError::MissingTensor(name.clone()))?;
            if view.shape() != shape.as_slice() {
                return Err(WeightsError::Shape {
                    name,
                    expected: shape,
                    found: view.shape().to_vec(),
                });
            }
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                Dtype::F16 => view
                    .data()
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                other => {
                    return Err(WeightsError::Dtype {
                        name,
                        found: format!("{other:?}"),
                    })
                }
            };
            if values.iter().any(|v| !v.is_finite()) {
                return Err(WeightsError::NonFinite(name));
            }
            expected_names.push(name);
            Ok(values)
        };
        let input = if has_input {
            let mean = read(INPUT_MEAN.into(), vec![config.input_dim])?;
            let scale = read(INPUT_SCALE.into(), vec![1])?[0];
            Some(InputTransform::new(mean, scale, config.input_dim)?)
        } else {
            None
        };
        let mut read_mlp =
            |prefix: &str, widths: &[usize]| -> Result<Vec<LayerWeights>, WeightsError> {
                widths
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| {
                        let (wn, bn) = layer_names(prefix, i);
                        Ok(LayerWeights {
                            weight: read(wn, vec![w[0], w[1]])?,
                            bias: read(bn, vec![w[1]])?,
                        })
                    })
                    .collect()
            };
        let encoder = read_mlp("encoder", &config.encoder_widths())?;
        let has_decoder = st.names().iter().any(|n| n.starts_with("decoder."));
        let decoder = if has_decoder {
            Some(read_mlp("decoder", &config.decoder_widths())?)
        } else {
            None
        };
        let codebooks = (0..config.levels)
            .map(|l| {
                read(
                    codebook_name(l),
                    vec![config.codebook_size, config.latent_dim],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(extra) = st
            .names()
            .into_iter()
            .find(|n| !expected_names.iter().any(|e| e == n))
        {
            return Err(WeightsError::Unexpected(extra.to_string()));
        }
        Ok(Self {
            config,
            input,
            encoder,
            codebooks,
            decoder,
        })
    }
}
