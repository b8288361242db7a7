//! Which tensors of a state dict are the encoder's layers, the codebooks and the decoder's
//! layers: found by the names the known implementations use, or given by a key map.
//!
//! Known layouts:
//! - `torch-ref`: the reference model's own checkpoints (`enc.{0,2,4,6}`, `dec.*`, `books.{l}`,
//!   with the model's `config` beside `model_state_dict`);
//! - `residual-vq`: lucidrains' `vector-quantize-pytorch` `ResidualVQ`
//!   (`….layers.{l}._codebook.embed`) beside the user's MLPs;
//! - `rq-vae-recommender`: RQ-VAE-Recommender's `Quantize` codebooks
//!   (`….layers.{l}.embedding.weight`) beside the user's MLPs;
//! - `codebooks`: `….codebooks.{l}` beside MLPs, as many hand-written models name them.
//!
//! An MLP is found as the numbered `Linear` layers of one module whose name says `enc` (or
//! `dec`). State dicts hold no activations: this model's MLPs are Linear + ReLU, so a layout
//! known to use another activation (RQ-VAE-Recommender's own MLP: SiLU, no biases) is refused
//! unless a key map says which layers to take.

use super::error::ImportError;
use super::pickle::{TensorRef, Value};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which tensors make the model, by their state-dict names (`--key-map MAP.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMap {
    /// The top-level key holding the state dict (`model_state_dict`, `state_dict`, `model`…);
    /// by default the first of those, else the checkpoint itself.
    #[serde(default)]
    pub state_dict: Option<String>,
    /// The encoder's Linear modules, input first (`enc.0`: its `.weight` is `[out, in]`, its
    /// `.bias` optional).
    pub encoder: Vec<String>,
    /// The decoder's Linear modules, latent first; empty to import without a decoder.
    #[serde(default)]
    pub decoder: Vec<String>,
    /// One codebook tensor per level, `[codes, latent]` (or `[1, codes, latent]`).
    pub codebooks: Vec<String>,
    /// Tensors to leave out: exact names, or prefixes ending in `.`.
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl KeyMap {
    pub fn from_json(text: &str, path: &str) -> Result<Self, ImportError> {
        let map: Self = serde_json::from_str(text).map_err(|e| ImportError::KeyMap {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if map.encoder.is_empty() || map.codebooks.is_empty() {
            return Err(ImportError::KeyMap {
                path: path.to_string(),
                message: "\"encoder\" and \"codebooks\" must each name at least one tensor".into(),
            });
        }
        Ok(map)
    }

    pub fn ignores(&self, name: &str) -> bool {
        self.ignore
            .iter()
            .any(|i| i == name || (i.ends_with('.') && name.starts_with(i.as_str())))
    }
}

/// The state dict's tensors by name, in the file's order.
pub type Tensors = Vec<(String, TensorRef)>;

const STATE_DICT_KEYS: &[&str] = &["model_state_dict", "state_dict", "model", "module", "net"];

fn key_text(k: &Value) -> Option<&str> {
    match k {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn flatten(prefix: &str, dict: &[(Value, Value)], out: &mut Tensors) {
    for (k, v) in dict {
        let Some(k) = key_text(k) else { continue };
        let name = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Tensor(t) => out.push((name, t.clone())),
            Value::Dict(inner) => flatten(&name, inner, out),
            _ => {}
        }
    }
}

pub(super) fn entry<'a>(dict: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    dict.iter()
        .find(|(k, _)| key_text(k) == Some(key))
        .map(|(_, v)| v)
}

/// The state dict's tensors and the key it was found under (`""` for the checkpoint itself).
pub fn state_dict(root: &Value, key: Option<&str>) -> Result<(String, Tensors), ImportError> {
    let Value::Dict(top) = root else {
        return Err(ImportError::NoStateDict(
            "the checkpoint is not a dict (save `model.state_dict()` or a dict holding it)".into(),
        ));
    };
    let keys: Vec<&str> = top.iter().filter_map(|(k, _)| key_text(k)).collect();
    let pick = |k: &str| -> Result<Tensors, ImportError> {
        match entry(top, k) {
            Some(Value::Dict(d)) => {
                let mut out = Vec::new();
                flatten("", d, &mut out);
                Ok(out)
            }
            Some(_) => Err(ImportError::NoStateDict(format!("'{k}' is not a dict"))),
            None => Err(ImportError::NoStateDict(format!(
                "no key '{k}' (top-level keys: {keys:?})"
            ))),
        }
    };
    if let Some(k) = key {
        return Ok((k.to_string(), pick(k)?));
    }
    if top.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) {
        let mut out = Vec::new();
        flatten("", top, &mut out);
        return Ok((String::new(), out));
    }
    for k in STATE_DICT_KEYS {
        if matches!(entry(top, k), Some(Value::Dict(_))) {
            return Ok((k.to_string(), pick(k)?));
        }
    }
    Err(ImportError::NoStateDict(format!(
        "no tensors at the top level and none of {STATE_DICT_KEYS:?} (top-level keys: {keys:?}); name it with --state-dict"
    )))
}

/// `a.b.3.c` → segments.
fn segments(name: &str) -> Vec<&str> {
    name.split('.').collect()
}

/// A codebook tensor recognised by a known naming: (layout, group prefix, level).
fn codebook_pattern(name: &str) -> Option<(&'static str, String, usize)> {
    let s = segments(name);
    let n = s.len();
    let level = |i: usize| s.get(i).and_then(|t| t.parse::<usize>().ok());
    let prefix = |upto: usize| s[..upto].join(".");
    if n >= 2 && s[n - 2] == "books" {
        return level(n - 1).map(|l| ("torch-ref", prefix(n - 2), l));
    }
    if n >= 2 && s[n - 2] == "codebooks" {
        return level(n - 1).map(|l| ("codebooks", prefix(n - 2), l));
    }
    if n >= 4 && s[n - 4] == "layers" && s[n - 2] == "_codebook" && s[n - 1] == "embed" {
        return level(n - 3).map(|l| ("residual-vq", prefix(n - 4), l));
    }
    if n >= 4 && s[n - 4] == "layers" && s[n - 2] == "embedding" && s[n - 1] == "weight" {
        return level(n - 3).map(|l| ("rq-vae-recommender", prefix(n - 4), l));
    }
    None
}

/// Buffers of a codebook that only training uses (EMA statistics, k-means flags).
const RESIDUAL_VQ_BUFFERS: &[&str] = &[
    "initted",
    "cluster_size",
    "embed_avg",
    "batch_mean",
    "batch_variance",
];

/// Finds the model's tensors by the known layouts; the layout's name and its key map.
pub fn detect(tensors: &Tensors) -> Result<(&'static str, KeyMap), ImportError> {
    let mut groups: BTreeMap<(&'static str, String), BTreeMap<usize, String>> = BTreeMap::new();
    for (name, t) in tensors {
        if let Some((layout, prefix, level)) = codebook_pattern(name) {
            if (2..=3).contains(&t.shape.len()) {
                groups
                    .entry((layout, prefix))
                    .or_default()
                    .insert(level, name.clone());
            }
        }
    }
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let ((layout, cb_prefix), levels) = match groups.len() {
        0 => {
            return Err(ImportError::Layout(format!(
                "no codebooks found: the state dict ({} tensors: {}) has none named like \
                 books.N, codebooks.N, layers.N._codebook.embed or layers.N.embedding.weight. \
                 If it is an RQ-VAE, name its tensors in a --key-map file",
                names.len(),
                preview(&names)
            )))
        }
        1 => groups.into_iter().next().unwrap(),
        _ => {
            return Err(ImportError::Layout(format!(
            "codebooks found in more than one place ({}); name the ones to use in a --key-map file",
            groups
                .keys()
                .map(|(l, p)| format!("{l} at '{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        }
    };
    if levels.keys().copied().ne(0..levels.len()) {
        return Err(ImportError::Layout(format!(
            "codebook levels {:?} are not numbered 0..{}",
            levels.keys().collect::<Vec<_>>(),
            levels.len()
        )));
    }
    let dot = |p: &str| {
        if p.is_empty() {
            String::new()
        } else {
            format!("{p}.")
        }
    };
    let quantizer_prefix = dot(&cb_prefix);
    for (name, _) in tensors {
        if layout != "torch-ref"
            && layout != "codebooks"
            && name.starts_with(&format!("{quantizer_prefix}layers."))
            && (name.contains("project_in") || name.contains("out_proj"))
        {
            return Err(ImportError::Layout(format!(
                "'{name}': the quantizer projects its input before the codebooks \
                 (ResidualVQ's codebook_dim ≠ dim, or RQ-VAE-Recommender's sim_vq), \
                 which this model has no place for"
            )));
        }
    }
    let mut ignore = Vec::new();
    if layout == "residual-vq" {
        for l in 0..levels.len() {
            for b in RESIDUAL_VQ_BUFFERS {
                ignore.push(format!("{quantizer_prefix}layers.{l}._codebook.{b}"));
            }
        }
    }
    let linear = linear_groups(tensors, &levels);
    let pick = |needle: &str| -> Vec<&String> {
        linear
            .keys()
            .filter(|p| {
                p.rsplit('.')
                    .find(|s| s.parse::<usize>().is_err() && *s != "mlp" && *s != "layers")
                    .is_some_and(|s| s.to_ascii_lowercase().contains(needle))
            })
            .collect()
    };
    let (enc, dec) = (pick("enc"), pick("dec"));
    if enc.len() != 1 || dec.len() > 1 {
        return Err(ImportError::Layout(format!(
            "cannot tell the encoder{} from the Linear layers found ({}); name them in a --key-map file",
            if dec.len() > 1 { " and decoder" } else { "" },
            if linear.is_empty() {
                "none".to_string()
            } else {
                linear
                    .iter()
                    .map(|(p, l)| format!("{p}: {} layers", l.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    let encoder = linear[enc[0]].clone();
    let has_bias = |m: &String| tensors.iter().any(|(n, _)| *n == format!("{m}.bias"));
    if enc[0].ends_with("mlp") && !encoder.iter().any(has_bias) {
        return Err(ImportError::Layout(format!(
            "'{}' looks like RQ-VAE-Recommender's MLP (bias-free Linear layers with SiLU \
             between them); this model's MLP is Linear + ReLU, so its IDs would differ. \
             If your MLP does use ReLU, name its layers in a --key-map file",
            enc[0]
        )));
    }
    Ok((
        layout,
        KeyMap {
            state_dict: None,
            encoder,
            decoder: dec.first().map(|d| linear[*d].clone()).unwrap_or_default(),
            codebooks: levels.into_values().collect(),
            ignore,
        },
    ))
}

/// Linear modules grouped by parent: `enc.0`, `enc.2` → `enc: [enc.0, enc.2]`, ordered by
/// their index.
fn linear_groups(
    tensors: &Tensors,
    codebooks: &BTreeMap<usize, String>,
) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (name, t) in tensors {
        if t.shape.len() != 2 || codebooks.values().any(|c| c == name) {
            continue;
        }
        let Some(module) = name.strip_suffix(".weight") else {
            continue;
        };
        let Some((parent, last)) = module.rsplit_once('.') else {
            continue;
        };
        let Ok(index) = last.parse::<usize>() else {
            continue;
        };
        groups
            .entry(parent.to_string())
            .or_default()
            .push((index, module.to_string()));
    }
    groups
        .into_iter()
        .map(|(p, mut v)| {
            v.sort();
            (p, v.into_iter().map(|(_, m)| m).collect())
        })
        .collect()
}

/// The first few names, for a message.
pub(super) fn preview<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(6).map(AsRef::as_ref).collect();
    if names.len() > shown.len() {
        format!("{}, …", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
