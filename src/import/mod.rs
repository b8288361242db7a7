//! PyTorch checkpoints (`.pth`/`.pt`) → rqvae weights, read in Rust and never run: the
//! reference model's own checkpoints, `ResidualVQ` and RQ-VAE-Recommender codebooks beside the
//! user's MLP, or any state dict through a key map. The result records where it came from
//! (`source` in the weights metadata); its fingerprint is its weights', as for any model.

mod archive;
mod error;
mod layout;
mod pickle;

pub use archive::Checkpoint;
pub use error::ImportError;
pub use layout::KeyMap;

use crate::config::RqVaeConfig;
use crate::weights::{LayerWeights, ModelWeights, Precision};
use layout::{preview, Tensors};
use pickle::{TensorRef, Value};
use serde_json::json;
use std::collections::HashSet;

/// How to read a checkpoint. The defaults find everything by the known layouts.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Which tensors make the model; found by name when `None`.
    pub key_map: Option<KeyMap>,
    /// The top-level key of the state dict (overrides the key map's).
    pub state_dict: Option<String>,
    /// Leave the decoder out (its tensors are then not needed, and ignored if present).
    pub no_decoder: bool,
    /// More tensors to leave out, as the key map's `ignore` (names, or prefixes ending in `.`).
    pub ignore: Vec<String>,
}

/// An imported model and the record of its origin.
#[derive(Debug, Clone)]
pub struct Imported {
    pub weights: ModelWeights,
    /// `torch-ref`, `residual-vq`, `rq-vae-recommender`, `codebooks` or `key-map`.
    pub layout: String,
    /// Stored as the `source` metadata entry of the weights file.
    pub source: serde_json::Value,
}

impl Imported {
    /// The weights file, with `source` in its metadata.
    pub fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, ImportError> {
        Ok(self
            .weights
            .to_bytes_with_metadata(precision, &[("source", self.source.to_string())])?)
    }
}

/// Reads, maps and checks a checkpoint's bytes. `file_name` is only recorded.
pub fn import_checkpoint(
    bytes: &[u8],
    file_name: &str,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let checkpoint = Checkpoint::from_bytes(bytes)?;
    let key = options
        .state_dict
        .clone()
        .or_else(|| options.key_map.as_ref().and_then(|m| m.state_dict.clone()));
    let (state_key, tensors) = layout::state_dict(&checkpoint.root, key.as_deref())?;
    let (layout, mut map) = match &options.key_map {
        Some(map) => ("key-map", map.clone()),
        None => layout::detect(&tensors)?,
    };
    map.ignore.extend(options.ignore.iter().cloned());
    let config_value = match &checkpoint.root {
        Value::Dict(top) => layout::entry(top, "config").map(to_json),
        _ => None,
    };
    let weights = build(&checkpoint, &tensors, &map, options.no_decoder)?;
    if let Some(config) = &config_value {
        check_config(config, &weights.config)?;
    }
    let mut tensor_names = serde_json::Map::new();
    for (i, m) in map.encoder.iter().enumerate() {
        tensor_names.insert(format!("encoder.layers.{i}"), json!(m));
    }
    for (l, c) in map.codebooks.iter().enumerate() {
        tensor_names.insert(format!("quantizer.codebooks.{l}"), json!(c));
    }
    if weights.decoder.is_some() {
        for (i, m) in map.decoder.iter().enumerate() {
            tensor_names.insert(format!("decoder.layers.{i}"), json!(m));
        }
    }
    let source = json!({
        "format": "pytorch",
        "file": file_name,
        "sha256": checkpoint.sha256,
        "layout": layout,
        "state_dict": state_key,
        "config": config_value,
        "tensors": tensor_names,
        "imported_by": format!("rqvae {}", env!("CARGO_PKG_VERSION")),
    });
    Ok(Imported {
        weights,
        layout: layout.to_string(),
        source,
    })
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::List(items) | Value::Tuple(items) => items.iter().map(to_json).collect(),
        Value::Dict(d) => d
            .iter()
            .filter_map(|(k, v)| match k {
                Value::Str(k) => Some((k.clone(), to_json(v))),
                Value::Int(i) => Some((i.to_string(), to_json(v))),
                _ => None,
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Bytes(_) => json!("<bytes>"),
        Value::Tensor(t) => json!(format!("<tensor {:?}>", t.shape)),
        Value::Global(g) => json!(g.to_string()),
        Value::Storage(_) => json!("<storage>"),
    }
}

struct Lookup<'a, 'file> {
    checkpoint: &'a Checkpoint<'file>,
    tensors: &'a Tensors,
    used: HashSet<String>,
}

impl Lookup<'_, '_> {
    fn get(&mut self, name: &str) -> Option<&TensorRef> {
        let t = self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        if t.is_some() {
            self.used.insert(name.to_string());
        }
        t
    }

    fn require(&mut self, name: &str) -> Result<TensorRef, ImportError> {
        self.get(name)
            .cloned()
            .ok_or_else(|| ImportError::MissingKey(name.to_string()))
    }

    /// A Linear layer `[out, in]` (+ optional bias) as this model's `[in, out]` layer.
    fn linear(
        &mut self,
        module: &str,
        inputs: usize,
    ) -> Result<(LayerWeights, usize), ImportError> {
        let wname = format!("{module}.weight");
        let w = self.require(&wname)?;
        let [out, inn] = w.shape[..] else {
            return Err(ImportError::Shape {
                name: wname,
                expected: format!("a Linear weight [out, {inputs}]"),
                found: w.shape.clone(),
            });
        };
        if inn != inputs {
            return Err(ImportError::Shape {
                name: wname,
                expected: format!("[out, {inputs}] (the previous layer gives {inputs})"),
                found: w.shape.clone(),
            });
        }
        let values = self.checkpoint.read_f32(&wname, &w)?;
        let mut weight = vec![0f32; inn * out];
        for o in 0..out {
            for i in 0..inn {
                weight[i * out + o] = values[o * inn + i];
            }
        }
        let bname = format!("{module}.bias");
        let bias = match self.get(&bname).cloned() {
            Some(b) if b.shape == [out] => self.checkpoint.read_f32(&bname, &b)?,
            Some(b) => {
                return Err(ImportError::Shape {
                    name: bname,
                    expected: format!("[{out}]"),
                    found: b.shape,
                })
            }
            None => vec![0.0; out],
        };
        Ok((LayerWeights { weight, bias }, out))
    }

    fn mlp(
        &mut self,
        modules: &[String],
        inputs: usize,
    ) -> Result<(Vec<LayerWeights>, Vec<usize>), ImportError> {
        let mut widths = vec![inputs];
        let mut layers = Vec::new();
        for m in modules {
            let (layer, out) = self.linear(m, *widths.last().unwrap())?;
            layers.push(layer);
            widths.push(out);
        }
        Ok((layers, widths))
    }
}

fn build(
    checkpoint: &Checkpoint<'_>,
    tensors: &Tensors,
    map: &KeyMap,
    no_decoder: bool,
) -> Result<ModelWeights, ImportError> {
    let mut look = Lookup {
        checkpoint,
        tensors,
        used: HashSet::new(),
    };
    let first = format!("{}.weight", map.encoder[0]);
    let input_dim = match look.get(&first) {
        Some(t) if t.shape.len() == 2 => t.shape[1],
        Some(t) => {
            return Err(ImportError::Shape {
                name: first,
                expected: "a Linear weight [out, in]".into(),
                found: t.shape.clone(),
            })
        }
        None => return Err(ImportError::MissingKey(first)),
    };
    let (encoder, widths) = look.mlp(&map.encoder, input_dim)?;
    let latent = *widths.last().unwrap();
    let mut codebooks = Vec::new();
    let mut size = None;
    for name in &map.codebooks {
        let t = look.require(name)?;
        let (codes, dim) = match t.shape[..] {
            [k, d] | [1, k, d] => (k, d),
            _ => (0, 0),
        };
        let expected = match &size {
            Some((k, first)) => format!("[{k}, {latent}], as {first} (every level the same size)"),
            None => format!("[codes, {latent}] (the encoder's output width is {latent})"),
        };
        if dim != latent || codes < 2 || size.as_ref().is_some_and(|(k, _)| *k != codes) {
            return Err(ImportError::Shape {
                name: name.clone(),
                expected,
                found: t.shape.clone(),
            });
        }
        size.get_or_insert((codes, name.clone()));
        codebooks.push(checkpoint.read_f32(name, &t)?);
    }
    let codebook_size = size.map(|(k, _)| k).unwrap_or(0);
    let hidden_dims = widths[1..widths.len() - 1].to_vec();
    let config = RqVaeConfig {
        input_dim,
        hidden_dims,
        latent_dim: latent,
        levels: codebooks.len(),
        codebook_size,
    };
    config
        .validate()
        .map_err(|e| ImportError::Layout(e.to_string()))?;
    let decoder = if no_decoder || map.decoder.is_empty() {
        for m in &map.decoder {
            look.get(&format!("{m}.weight"));
            look.get(&format!("{m}.bias"));
        }
        None
    } else {
        let (layers, dec_widths) = look.mlp(&map.decoder, latent)?;
        let mirror = config.decoder_widths();
        if dec_widths != mirror {
            return Err(ImportError::Layout(format!(
                "the decoder's widths {dec_widths:?} do not mirror the encoder's {:?} \
                 (this model's decoder must); import without it (--no-decoder)",
                config.encoder_widths()
            )));
        }
        Some(layers)
    };
    let extra: Vec<String> = tensors
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !look.used.contains(*n) && !map.ignores(n))
        .cloned()
        .collect();
    if !extra.is_empty() {
        return Err(ImportError::ExtraKeys {
            count: extra.len(),
            names: preview(&extra),
        });
    }
    let weights = ModelWeights {
        config,
        input: None,
        encoder,
        codebooks,
        decoder,
    };
    weights.check_shapes()?;
    Ok(weights)
}

/// The checkpoint's own `config`, where it names sizes, must agree with its tensors.
fn check_config(config: &serde_json::Value, found: &RqVaeConfig) -> Result<(), ImportError> {
    let num = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| config.get(*k).and_then(serde_json::Value::as_u64))
    };
    let checks: [(&'static str, &[&str], usize); 4] = [
        ("input_dim", &["input_dim", "in_dim"], found.input_dim),
        (
            "latent_dim",
            &["latent_dim", "embed_dim", "e_dim"],
            found.latent_dim,
        ),
        (
            "levels",
            &["levels", "n_layers", "num_quantizers", "num_levels"],
            found.levels,
        ),
        (
            "codebook_size",
            &["codebook_size", "n_embed", "num_emb"],
            found.codebook_size,
        ),
    ];
    for (field, keys, value) in checks {
        if let Some(c) = num(keys) {
            if c as usize != value {
                return Err(ImportError::ConfigMismatch {
                    field,
                    config: c.to_string(),
                    tensors: value.to_string(),
                });
            }
        }
    }
    if let Some(hidden) = config.get("hidden_dims").and_then(|h| h.as_array()) {
        let hidden: Vec<u64> = hidden.iter().filter_map(|v| v.as_u64()).collect();
        let ours: Vec<u64> = found.hidden_dims.iter().map(|&h| h as u64).collect();
        if hidden != ours {
            return Err(ImportError::ConfigMismatch {
                field: "hidden_dims",
                config: format!("{hidden:?}"),
                tensors: format!("{ours:?}"),
            });
        }
    }
    Ok(())
}
