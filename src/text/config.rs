//! What a sentence-transformers directory says about its model: the BERT sizes (`config.json`),
//! the pooling (`1_Pooling/config.json`), whether vectors are normalised (`modules.json`) and the
//! longest input (`sentence_bert_config.json`). Everything the encoder does that is not a weight
//! comes from here, so an unsupported model is refused by name before any weight is read.

use super::error::TextModelError;
use serde::{Deserialize, Serialize};

/// The sizes of a BERT encoder, as `config.json` states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

impl BertConfig {
    /// Fails unless every size is usable: none zero, heads dividing the width, a positive
    /// LayerNorm epsilon. `file` names the config in errors.
    pub fn check(&self, file: &str) -> Result<(), TextModelError> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (field, value) in sizes {
            if value == 0 {
                return Err(TextModelError::Unsupported {
                    file: file.into(),
                    field,
                    expected: "a size of at least 1",
                    found: "0".into(),
                });
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(TextModelError::Unsupported {
                file: file.into(),
                field: "num_attention_heads",
                expected: "a divisor of hidden_size",
                found: format!(
                    "{} heads for hidden_size {}",
                    self.num_attention_heads, self.hidden_size
                ),
            });
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(TextModelError::Unsupported {
                file: file.into(),
                field: "layer_norm_eps",
                expected: "a positive number",
                found: self.layer_norm_eps.to_string(),
            });
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean of the token vectors, padding excluded (all-MiniLM, e5, gte).
    Mean,
    /// The first token's vector, `[CLS]` (bge).
    Cls,
}

/// Everything about a sentence encoder that is not a weight or the vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextModelConfig {
    pub bert: BertConfig,
    pub pooling: Pooling,
    /// Whether sentence vectors are scaled to unit length (a `Normalize` module).
    pub normalize: bool,
    /// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    pub max_seq_length: usize,
}

impl TextModelConfig {
    /// The width of the sentence vectors.
    pub fn dim(&self) -> usize {
        self.bert.hidden_size
    }
}

/// The fields of `config.json` this encoder reads; others (dropout, pad token, …) do not change
/// what an inference computes.
#[derive(Deserialize)]
struct RawBertConfig {
    model_type: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_act")]
    hidden_act: String,
    position_embedding_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

fn json<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
    what: &'static str,
) -> Result<T, TextModelError> {
    serde_json::from_str(text).map_err(|e| TextModelError::Json {
        file: file.into(),
        what,
        reason: e.to_string(),
    })
}

/// Parses `config.json`, refusing any model that is not a BERT encoder this code computes
/// exactly: another architecture, another activation or relative positions.
pub fn parse_bert_config(text: &str, file: &str) -> Result<BertConfig, TextModelError> {
    let raw: RawBertConfig = json(text, file, "model config (config.json)")?;
    let is_bert = match raw.model_type.as_deref() {
        Some(t) => t == "bert",
        None => raw.architectures.iter().any(|a| a.starts_with("Bert")),
    };
    if !is_bert {
        let found = match (&raw.model_type, raw.architectures.first()) {
            (Some(t), _) => format!("model_type \"{t}\""),
            (None, Some(a)) => format!("architecture \"{a}\""),
            (None, None) => "a model without model_type".into(),
        };
        return Err(TextModelError::Architecture {
            file: file.into(),
            found,
        });
    }
    if raw.hidden_act != "gelu" {
        return Err(TextModelError::Unsupported {
            file: file.into(),
            field: "hidden_act",
            expected: "\"gelu\" (the exact, erf-based GELU)",
            found: format!("{:?}", raw.hidden_act),
        });
    }
    if let Some(p) = raw.position_embedding_type.as_deref() {
        if p != "absolute" {
            return Err(TextModelError::Unsupported {
                file: file.into(),
                field: "position_embedding_type",
                expected: "\"absolute\" (learned positions)",
                found: format!("{p:?}"),
            });
        }
    }
    let config = BertConfig {
        vocab_size: raw.vocab_size,
        hidden_size: raw.hidden_size,
        num_hidden_layers: raw.num_hidden_layers,
        num_attention_heads: raw.num_attention_heads,
        intermediate_size: raw.intermediate_size,
        max_position_embeddings: raw.max_position_embeddings,
        type_vocab_size: raw.type_vocab_size,
        layer_norm_eps: raw.layer_norm_eps,
    };
    config.check(file)?;
    Ok(config)
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct Module {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// What `modules.json` says: the pooling module's folder and whether a `Normalize` module
/// follows it. The folders a `Normalize` module names hold nothing, so they need not exist.
pub struct Modules {
    pub pooling_dir: String,
    pub normalize: bool,
}

pub fn parse_modules(text: &str, file: &str) -> Result<Modules, TextModelError> {
    let modules: Vec<Module> = json(text, file, "module list (modules.json)")?;
    let mut pooling_dir = None;
    let mut normalize = false;
    for m in &modules {
        match m.kind.rsplit('.').next().unwrap_or("") {
            "Transformer" => {}
            "Pooling" => pooling_dir = Some(m.path.clone()),
            "Normalize" => normalize = true,
            other => {
                return Err(TextModelError::Unsupported {
                    file: file.into(),
                    field: "a module's type",
                    expected: "Transformer, Pooling and Normalize modules",
                    found: format!("{other:?} ({})", m.kind),
                })
            }
        }
    }
    let pooling_dir = pooling_dir.ok_or_else(|| TextModelError::Unsupported {
        file: file.into(),
        field: "the module list",
        expected: "a Pooling module",
        found: "none".into(),
    })?;
    Ok(Modules {
        pooling_dir,
        normalize,
    })
}

/// Parses the pooling module's `config.json`: exactly one of mean and CLS pooling.
pub fn parse_pooling(text: &str, file: &str) -> Result<Pooling, TextModelError> {
    let raw: serde_json::Map<String, serde_json::Value> =
        json(text, file, "pooling config (1_Pooling/config.json)")?;
    let on: Vec<&str> = raw
        .iter()
        .filter(|(k, v)| k.starts_with("pooling_mode_") && v.as_bool() == Some(true))
        .map(|(k, _)| k.as_str())
        .collect();
    match on.as_slice() {
        ["pooling_mode_mean_tokens"] => Ok(Pooling::Mean),
        ["pooling_mode_cls_token"] => Ok(Pooling::Cls),
        _ => Err(TextModelError::Unsupported {
            file: file.into(),
            field: "the pooling mode",
            expected: "exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token",
            found: if on.is_empty() {
                "none set".into()
            } else {
                on.join(", ")
            },
        }),
    }
}

/// `max_seq_length` of `sentence_bert_config.json`.
pub fn parse_max_seq_length(text: &str, file: &str) -> Result<Option<usize>, TextModelError> {
    #[derive(Deserialize)]
    struct Raw {
        max_seq_length: Option<usize>,
    }
    let raw: Raw = json(text, file, "sentence-transformers config")?;
    Ok(raw.max_seq_length)
}
