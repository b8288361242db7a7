//! The sentence encoder's forward pass on host memory, without a tensor library: the CPU path
//! natively and in the browser.
//!
//! It computes what [`super::model::BertModel`] computes, on sequences packed end to end instead
//! of padded to the batch's longest: the dense layers see every real token once, and attention
//! runs per sequence, so a batch costs what its tokens cost. The matrix products run on the
//! `gemm` crate natively (AVX2 / AVX-512 kernels chosen at run time) and on the SIMD128
//! register-blocked kernel of [`crate::dense`] in wasm; the element-wise parts are in
//! [`super::math`].

use super::config::{BertConfig, Pooling};
use super::math;
use super::weights::{BertWeights, Linear};

/// A dense layer ready for this target's kernel.
#[derive(Debug, Clone)]
struct Dense {
    #[cfg(not(target_arch = "wasm32"))]
    linear: Linear,
    #[cfg(target_arch = "wasm32")]
    packed: crate::host::dense::PackedDense,
}

impl Dense {
    fn new(linear: &Linear) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        {
            Self {
                linear: linear.clone(),
            }
        }
        #[cfg(target_arch = "wasm32")]
        {
            Self {
                packed: crate::host::dense::PackedDense::new(
                    &linear.weight,
                    &linear.bias,
                    linear.inputs,
                    linear.outputs,
                ),
            }
        }
    }

    /// `out = x · W + b` for `rows` rows.
    fn forward(&self, x: &[f32], rows: usize, out: &mut Vec<f32>, scratch: &mut Vec<f32>) {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = scratch;
            let l = &self.linear;
            out.clear();
            out.reserve(rows * l.outputs);
            for _ in 0..rows {
                out.extend_from_slice(&l.bias);
            }
            crate::host::matmul::matmul_serial(
                out,
                crate::host::matmul::View::new(&x[..rows * l.inputs], rows, l.inputs),
                crate::host::matmul::View::new(&l.weight, l.inputs, l.outputs),
                true,
            );
        }
        #[cfg(target_arch = "wasm32")]
        {
            out.resize(rows * self.packed.outputs(), 0.0);
            self.packed.forward::<true>(x, rows, out, false, scratch);
        }
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    intermediate: Dense,
    output: Dense,
}

/// The buffers one forward pass needs, kept across calls so that a long catalog does not
/// allocate per batch.
#[derive(Default)]
pub struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
    pack: Vec<f32>,
}

/// A BERT encoder on the host.
pub struct HostBert {
    config: BertConfig,
    weights: BertWeights,
    layers: Vec<Layer>,
}

impl HostBert {
    pub fn new(config: BertConfig, weights: BertWeights) -> Self {
        let layers = weights
            .layers
            .iter()
            .map(|l| Layer {
                qkv: Dense::new(&l.qkv),
                attention_out: Dense::new(&l.attention_out),
                intermediate: Dense::new(&l.intermediate),
                output: Dense::new(&l.output),
            })
            .collect();
        Self {
            config,
            weights,
            layers,
        }
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    pub fn weights(&self) -> &BertWeights {
        &self.weights
    }

    /// Sentence vectors of `sequences` (token ids, each at most `max_position_embeddings`
    /// long and at least 1), pooled and, with `normalize`, at unit length: `out` gets
    /// `sequences.len() × hidden` values.
    pub fn embed(
        &self,
        sequences: &[&[u32]],
        pooling: Pooling,
        normalize: bool,
        out: &mut [f32],
        s: &mut Scratch,
    ) {
        let h = self.config.hidden_size;
        assert_eq!(
            out.len(),
            sequences.len() * h,
            "out is not sequences × hidden"
        );
        self.encode_tokens(sequences, s);
        let mut start = 0;
        for (seq, pooled) in sequences.iter().zip(out.chunks_exact_mut(h)) {
            let tokens = &s.x[start * h..(start + seq.len()) * h];
            match pooling {
                Pooling::Cls => pooled.copy_from_slice(&tokens[..h]),
                Pooling::Mean => {
                    pooled.fill(0.0);
                    for t in tokens.chunks_exact(h) {
                        for (p, v) in pooled.iter_mut().zip(t) {
                            *p += v;
                        }
                    }
                    let inv = 1.0 / seq.len() as f32;
                    pooled.iter_mut().for_each(|p| *p *= inv);
                }
            }
            if normalize {
                // As torch.nn.functional.normalize: divide by max(‖v‖, 1e-12).
                let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                pooled.iter_mut().for_each(|p| *p /= norm);
            }
            start += seq.len();
        }
    }

    /// The last layer's token vectors of every sequence, end to end, into `s.x`.
    fn encode_tokens(&self, sequences: &[&[u32]], s: &mut Scratch) {
        let c = &self.config;
        let h = c.hidden_size;
        let eps = c.layer_norm_eps as f32;
        let total: usize = sequences.iter().map(|q| q.len()).sum();
        let w = &self.weights;

        s.x.clear();
        s.x.reserve(total * h);
        let token_type = &w.token_type_embeddings[..h];
        for seq in sequences {
            assert!(
                !seq.is_empty() && seq.len() <= c.max_position_embeddings,
                "a sequence of {} tokens (1 to {} allowed)",
                seq.len(),
                c.max_position_embeddings
            );
            for (pos, &id) in seq.iter().enumerate() {
                let id = id as usize;
                assert!(id < c.vocab_size, "token id {id} past the vocabulary");
                let word = &w.word_embeddings[id * h..(id + 1) * h];
                let position = &w.position_embeddings[pos * h..(pos + 1) * h];
                let at = s.x.len();
                s.x.extend(
                    word.iter()
                        .zip(position)
                        .zip(token_type)
                        .map(|((a, b), t)| a + b + t),
                );
                let norm = &w.embedding_norm;
                math::layer_norm(&mut s.x[at..at + h], &norm.gamma, &norm.beta, eps);
            }
        }

        let lengths: Vec<usize> = sequences.iter().map(|q| q.len()).collect();
        let heads = math::Heads {
            lengths: &lengths,
            heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        };
        for (layer, lw) in self.layers.iter().zip(&w.layers) {
            layer.qkv.forward(&s.x, total, &mut s.qkv, &mut s.pack);
            s.context.clear();
            s.context.resize(total * h, 0.0);
            math::attention(&s.qkv, &mut s.context, &mut s.scores, &heads);
            layer
                .attention_out
                .forward(&s.context, total, &mut s.projected, &mut s.pack);
            let n = &lw.attention_norm;
            math::add_layer_norm_rows(&mut s.projected, &s.x, &n.gamma, &n.beta, eps);
            std::mem::swap(&mut s.x, &mut s.projected);
            layer
                .intermediate
                .forward(&s.x, total, &mut s.inner, &mut s.pack);
            math::gelu(&mut s.inner);
            layer
                .output
                .forward(&s.inner, total, &mut s.projected, &mut s.pack);
            let n = &lw.output_norm;
            math::add_layer_norm_rows(&mut s.projected, &s.x, &n.gamma, &n.beta, eps);
            std::mem::swap(&mut s.x, &mut s.projected);
        }
    }
}
