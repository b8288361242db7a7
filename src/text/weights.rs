//! A BERT encoder's parameters on the host, read from a safetensors file under Hugging Face's
//! tensor names (with or without a `bert.` prefix; LayerNorm as `weight`/`bias` or the older
//! `gamma`/`beta`), in F32, F16 or BF16. Every tensor is checked against `config.json` before
//! use: a wrong shape, a missing tensor or a non-finite value is an error naming the tensor.

use super::config::BertConfig;
use super::error::TextModelError;
use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

/// A linear layer `y = x · W + b`, `weight` `[in, out]` row-major (PyTorch stores `[out, in]`;
/// it is transposed once, here).
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
}

/// LayerNorm's scale and shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// One transformer layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// Query, key and value side by side: `[hidden, 3 · hidden]`, so one product computes all three.
    pub qkv: Linear,
    pub attention_out: Linear,
    pub attention_norm: Norm,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_norm: Norm,
}

/// Every parameter of a BERT encoder that an embedding uses (the pooler is not: sentence
/// encoders pool the token vectors themselves).
#[derive(Debug, Clone, PartialEq)]
pub struct BertWeights {
    pub word_embeddings: Vec<f32>,
    pub position_embeddings: Vec<f32>,
    pub token_type_embeddings: Vec<f32>,
    pub embedding_norm: Norm,
    pub layers: Vec<LayerWeights>,
}

/// Reads tensors of one safetensors file by their Hugging Face names.
struct Reader<'a> {
    tensors: SafeTensors<'a>,
    prefix: &'static str,
    file: &'a str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], file: &'a str) -> Result<Self, TextModelError> {
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| TextModelError::NotSafetensors {
                file: file.into(),
                reason: e.to_string(),
            })?;
        let prefix = if tensors.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        Ok(Self {
            tensors,
            prefix,
            file,
        })
    }

    /// The tensor `name` (the first of `names` present) as f32 values, checked to be `shape`.
    fn tensor(&self, names: &[&str], shape: &[usize]) -> Result<Vec<f32>, TextModelError> {
        let full: Vec<String> = names
            .iter()
            .map(|n| format!("{}{n}", self.prefix))
            .collect();
        let (name, view) = full
            .iter()
            .find_map(|n| self.tensors.tensor(n).ok().map(|v| (n, v)))
            .ok_or_else(|| TextModelError::MissingTensor {
                file: self.file.into(),
                tensor: full[0].clone(),
            })?;
        if view.shape() != shape {
            return Err(TextModelError::Shape {
                file: self.file.into(),
                tensor: name.clone(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(TextModelError::Dtype {
                    file: self.file.into(),
                    tensor: name.clone(),
                    found: format!("{other:?}"),
                })
            }
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(TextModelError::NonFinite {
                file: self.file.into(),
                tensor: name.clone(),
            });
        }
        Ok(values)
    }

    fn norm(&self, at: &str, width: usize) -> Result<Norm, TextModelError> {
        Ok(Norm {
            gamma: self.tensor(&[&format!("{at}.weight"), &format!("{at}.gamma")], &[width])?,
            beta: self.tensor(&[&format!("{at}.bias"), &format!("{at}.beta")], &[width])?,
        })
    }

    /// PyTorch's `[out, in]` weight and `[out]` bias of the linear layer at `at`, transposed.
    fn linear_parts(
        &self,
        at: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<(Vec<f32>, Vec<f32>), TextModelError> {
        let w = self.tensor(&[&format!("{at}.weight")], &[outputs, inputs])?;
        let b = self.tensor(&[&format!("{at}.bias")], &[outputs])?;
        Ok((transpose(&w, outputs, inputs), b))
    }

    fn linear(&self, at: &str, inputs: usize, outputs: usize) -> Result<Linear, TextModelError> {
        let (weight, bias) = self.linear_parts(at, inputs, outputs)?;
        Ok(Linear {
            weight,
            bias,
            inputs,
            outputs,
        })
    }
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = m[r * cols + c];
        }
    }
    out
}

impl BertWeights {
    /// Reads the encoder's tensors from safetensors `bytes` (`file` names them in errors).
    pub fn from_safetensors(
        bytes: &[u8],
        file: &str,
        config: &BertConfig,
    ) -> Result<Self, TextModelError> {
        let r = Reader::new(bytes, file)?;
        let h = config.hidden_size;
        let i = config.intermediate_size;
        let word_embeddings = r.tensor(
            &["embeddings.word_embeddings.weight"],
            &[config.vocab_size, h],
        )?;
        let position_embeddings = r.tensor(
            &["embeddings.position_embeddings.weight"],
            &[config.max_position_embeddings, h],
        )?;
        let token_type_embeddings = r.tensor(
            &["embeddings.token_type_embeddings.weight"],
            &[config.type_vocab_size, h],
        )?;
        let embedding_norm = r.norm("embeddings.LayerNorm", h)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let at = format!("encoder.layer.{l}");
            let mut qkv_w = vec![0.0; h * 3 * h];
            let mut qkv_b = Vec::with_capacity(3 * h);
            for (part, name) in ["query", "key", "value"].iter().enumerate() {
                let (w, b) = r.linear_parts(&format!("{at}.attention.self.{name}"), h, h)?;
                for row in 0..h {
                    qkv_w[row * 3 * h + part * h..row * 3 * h + (part + 1) * h]
                        .copy_from_slice(&w[row * h..(row + 1) * h]);
                }
                qkv_b.extend(b);
            }
            layers.push(LayerWeights {
                qkv: Linear {
                    weight: qkv_w,
                    bias: qkv_b,
                    inputs: h,
                    outputs: 3 * h,
                },
                attention_out: r.linear(&format!("{at}.attention.output.dense"), h, h)?,
                attention_norm: r.norm(&format!("{at}.attention.output.LayerNorm"), h)?,
                intermediate: r.linear(&format!("{at}.intermediate.dense"), h, i)?,
                output: r.linear(&format!("{at}.output.dense"), i, h)?,
                output_norm: r.norm(&format!("{at}.output.LayerNorm"), h)?,
            });
        }
        Ok(Self {
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            embedding_norm,
            layers,
        })
    }

    /// Every tensor under its Hugging Face name and PyTorch layout, in a fixed order: what a
    /// bundle stores, and what [`Self::from_safetensors`] reads back.
    pub fn named_tensors(&self, config: &BertConfig) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let h = config.hidden_size;
        let mut out = vec![
            (
                "embeddings.word_embeddings.weight".to_string(),
                vec![config.vocab_size, h],
                self.word_embeddings.clone(),
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                vec![config.max_position_embeddings, h],
                self.position_embeddings.clone(),
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                vec![config.type_vocab_size, h],
                self.token_type_embeddings.clone(),
            ),
        ];
        let norm = |out: &mut Vec<_>, at: &str, n: &Norm| {
            out.push((format!("{at}.weight"), vec![n.gamma.len()], n.gamma.clone()));
            out.push((format!("{at}.bias"), vec![n.beta.len()], n.beta.clone()));
        };
        let linear = |out: &mut Vec<_>, at: &str, w: &[f32], b: &[f32], inputs, outputs| {
            out.push((
                format!("{at}.weight"),
                vec![outputs, inputs],
                transpose(w, inputs, outputs),
            ));
            out.push((format!("{at}.bias"), vec![outputs], b.to_vec()));
        };
        norm(&mut out, "embeddings.LayerNorm", &self.embedding_norm);
        for (l, layer) in self.layers.iter().enumerate() {
            let at = format!("encoder.layer.{l}");
            for (part, name) in ["query", "key", "value"].iter().enumerate() {
                let w: Vec<f32> = (0..h)
                    .flat_map(|row| {
                        layer.qkv.weight[row * 3 * h + part * h..row * 3 * h + (part + 1) * h]
                            .iter()
                            .copied()
                    })
                    .collect();
                let b = &layer.qkv.bias[part * h..(part + 1) * h];
                linear(
                    &mut out,
                    &format!("{at}.attention.self.{name}"),
                    &w,
                    b,
                    h,
                    h,
                );
            }
            for (name, lin) in [
                ("attention.output.dense", &layer.attention_out),
                ("intermediate.dense", &layer.intermediate),
                ("output.dense", &layer.output),
            ] {
                let at = format!("{at}.{name}");
                linear(
                    &mut out,
                    &at,
                    &lin.weight,
                    &lin.bias,
                    lin.inputs,
                    lin.outputs,
                );
            }
            norm(
                &mut out,
                &format!("{at}.attention.output.LayerNorm"),
                &layer.attention_norm,
            );
            norm(
                &mut out,
                &format!("{at}.output.LayerNorm"),
                &layer.output_norm,
            );
        }
        out
    }
}
