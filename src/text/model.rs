//! The BERT sentence encoder as a burn module, generic over the backend like [`crate::RqVae`]:
//! the CUDA path of `rqvae-train embed` and the WebGPU path in the browser.
//!
//! Batches are padded to their longest sequence with an attention mask, as in Hugging Face's
//! `BertModel`: padded keys get a large negative score before the softmax, and pooling averages
//! the real tokens only. [`super::host::HostBert`] computes the same on packed sequences.

use super::config::{BertConfig, Pooling};
use super::weights::{BertWeights, Linear as HostLinear, Norm};
use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// Added to the scores of padded keys: their softmax weight is exactly 0 in f32.
const MASKED: f32 = -1e9;

#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    attention_out: Linear<B>,
    attention_norm: LayerNorm<B>,
    intermediate: Linear<B>,
    output: Linear<B>,
    output_norm: LayerNorm<B>,
}

#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    word: Embedding<B>,
    position: Embedding<B>,
    token_type: Embedding<B>,
    embedding_norm: LayerNorm<B>,
    layers: Vec<BertLayer<B>>,
    heads: usize,
}

fn linear<B: Backend>(
    w: &[f32],
    b: &[f32],
    inputs: usize,
    outputs: usize,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w.to_vec(), [inputs, outputs]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b.to_vec(), [outputs]),
            device,
        ))),
    }
}

fn from_linear<B: Backend>(l: &HostLinear, device: &B::Device) -> Linear<B> {
    linear(&l.weight, &l.bias, l.inputs, l.outputs, device)
}

fn norm<B: Backend>(n: &Norm, eps: f64, device: &B::Device) -> LayerNorm<B> {
    let mut layer = LayerNormConfig::new(n.gamma.len())
        .with_epsilon(eps)
        .init(device);
    layer.gamma = Param::from_tensor(Tensor::from_data(
        TensorData::new(n.gamma.clone(), [n.gamma.len()]),
        device,
    ));
    layer.beta = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(n.beta.clone(), [n.beta.len()]),
        device,
    )));
    layer
}

fn embedding<B: Backend>(
    values: &[f32],
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> Embedding<B> {
    Embedding {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(values.to_vec(), [rows, cols]),
            device,
        )),
    }
}

impl<B: Backend> BertModel<B> {
    /// The model with `weights` on `device`.
    pub fn new(config: &BertConfig, weights: &BertWeights, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let eps = config.layer_norm_eps;
        let layers = weights
            .layers
            .iter()
            .map(|l| {
                // The host keeps query, key and value side by side; burn gets three layers.
                let part = |p: usize| {
                    let w: Vec<f32> = (0..h)
                        .flat_map(|row| {
                            l.qkv.weight[row * 3 * h + p * h..row * 3 * h + (p + 1) * h].to_vec()
                        })
                        .collect();
                    linear(&w, &l.qkv.bias[p * h..(p + 1) * h], h, h, device)
                };
                BertLayer {
                    query: part(0),
                    key: part(1),
                    value: part(2),
                    attention_out: from_linear(&l.attention_out, device),
                    attention_norm: norm(&l.attention_norm, eps, device),
                    intermediate: from_linear(&l.intermediate, device),
                    output: from_linear(&l.output, device),
                    output_norm: norm(&l.output_norm, eps, device),
                }
            })
            .collect();
        Self {
            word: embedding(&weights.word_embeddings, config.vocab_size, h, device),
            position: embedding(
                &weights.position_embeddings,
                config.max_position_embeddings,
                h,
                device,
            ),
            token_type: embedding(
                &weights.token_type_embeddings,
                config.type_vocab_size,
                h,
                device,
            ),
            embedding_norm: norm(&weights.embedding_norm, eps, device),
            layers,
            heads: config.num_attention_heads,
        }
    }

    /// Token vectors `[batch, len, hidden]` of `ids` (`[batch, len]`, padded) under `mask`
    /// (`[batch, len]`, 1 for a real token, 0 for padding).
    pub fn forward(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, len] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..len as i64, &device)
            .reshape([1, len])
            .expand([batch, len]);
        let types = Tensor::<B, 2, Int>::zeros([batch, len], &device);
        let mut x = self.word.forward(ids)
            + self.position.forward(positions)
            + self.token_type.forward(types);
        x = self.embedding_norm.forward(x);
        // [batch, 1, 1, len]: the same key mask for every head and query.
        let bias = (mask.ones_like() - mask)
            .mul_scalar(MASKED)
            .reshape([batch, 1, 1, len]);
        for layer in &self.layers {
            x = self.layer(layer, x, bias.clone());
        }
        x
    }

    fn layer(&self, l: &BertLayer<B>, x: Tensor<B, 3>, bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, len, hidden] = x.dims();
        let d = hidden / self.heads;
        let split = |t: Tensor<B, 3>| t.reshape([batch, len, self.heads, d]).swap_dims(1, 2);
        let q = split(l.query.forward(x.clone()));
        let k = split(l.key.forward(x.clone()));
        let v = split(l.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((d as f32).sqrt()) + bias;
        let context = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, len, hidden]);
        let attended = l
            .attention_norm
            .forward(l.attention_out.forward(context) + x);
        let inner = gelu(l.intermediate.forward(attended.clone()));
        l.output_norm.forward(l.output.forward(inner) + attended)
    }

    /// Sentence vectors `[batch, hidden]`: the token vectors pooled, then at unit length with
    /// `normalize` (as `torch.nn.functional.normalize`: divided by max(‖v‖, 1e-12)).
    pub fn embed(
        &self,
        ids: Tensor<B, 2, Int>,
        mask: Tensor<B, 2>,
        pooling: Pooling,
        normalize: bool,
    ) -> Tensor<B, 2> {
        let tokens = self.forward(ids, mask.clone());
        let [batch, len, hidden] = tokens.dims();
        let pooled = match pooling {
            Pooling::Cls => tokens
                .slice([0..batch, 0..1, 0..hidden])
                .reshape([batch, hidden]),
            Pooling::Mean => {
                let m = mask.reshape([batch, len, 1]);
                let counts = m.clone().sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
                (tokens * m).sum_dim(1).reshape([batch, hidden]) / counts
            }
        };
        if normalize {
            let norms = pooled
                .clone()
                .powi_scalar(2)
                .sum_dim(1)
                .sqrt()
                .clamp_min(1e-12);
            pooled / norms
        } else {
            pooled
        }
    }
}

/// The padded ids (`[batch, len]`) and mask of `sequences`, for [`BertModel::embed`]: each
/// sequence is followed by zeros up to the longest.
pub fn padded_batch<B: Backend>(
    sequences: &[&[u32]],
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2>) {
    let len = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut ids = vec![0i64; sequences.len() * len];
    let mut mask = vec![0f32; sequences.len() * len];
    for (r, seq) in sequences.iter().enumerate() {
        for (c, &id) in seq.iter().enumerate() {
            ids[r * len + c] = id as i64;
            mask[r * len + c] = 1.0;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [sequences.len(), len]), device),
        Tensor::from_data(TensorData::new(mask, [sequences.len(), len]), device),
    )
}
