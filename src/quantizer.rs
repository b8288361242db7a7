//! Residual vector quantization with rotation-trick gradients.
//!
//! Level `l` picks the code nearest (squared L2) to the current residual, and the next level sees
//! `residual − code`. Training and inference use that same residual, as the rotation-trick paper
//! requires (a mismatch between the two is a known bug in one public implementation).

use crate::code_usage::{level_usage, CodeUsage};
use crate::collision::{level_penalty, BatchCollision};
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// One codebook per level, each `[codebook_size, latent_dim]`.
#[derive(Module, Debug)]
pub struct ResidualQuantizer<B: Backend> {
    pub codebooks: Vec<Param<Tensor<B, 2>>>,
}

/// What one training pass through the quantizer produces.
pub struct QuantizerOutput<B: Backend> {
    /// Sum of the levels' codes; forward value equals the quantized latent, gradient flows to the
    /// encoder through the rotation trick.
    pub quantized: Tensor<B, 2>,
    /// Nearest code of every row at every level, `[batch, levels]`: the IDs inference gives.
    pub ids: Tensor<B, 2, Int>,
    /// Mean over rows of ‖sg(residual) − code‖², summed over levels: moves codes to the data.
    pub codebook_loss: Tensor<B, 1>,
    /// Mean over rows of ‖residual − sg(code)‖², summed over levels: keeps the encoder near its codes.
    pub commitment_loss: Tensor<B, 1>,
    /// The residual each level quantized, detached, for dead-code replacement.
    pub residuals: Vec<Tensor<B, 2>>,
    /// `Σ_l λ_l · penalty_l` of [`crate::collision`] (zero without a penalty).
    pub collision_loss: Tensor<B, 1>,
    /// `Σ_l λ_l · usage_l` of [`crate::code_usage`] (zero without the term).
    pub usage_loss: Tensor<B, 1>,
}

/// How the training pass balances code usage: the VQ losses' targets (nearest code by default,
/// or balanced over the batch by [`crate::sinkhorn::balanced_codes`]) and the code-usage term
/// ([`crate::code_usage`]) that moves the codes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Balance {
    /// Per level, the Sinkhorn entropy weight; 0 (or a level past the end) means nearest code.
    pub epsilon: Vec<f32>,
    pub iterations: usize,
    pub usage: CodeUsage,
}

impl Balance {
    fn epsilon(&self, level: usize) -> Option<f32> {
        self.epsilon.get(level).copied().filter(|&e| e > 0.0)
    }
}

/// Index of the nearest row of `codebook` for every row of `x`, as `[n]`.
///
/// ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖²; the ‖x‖² term is the same for every code of a row, so the
/// argmin only needs ‖c‖² − 2 x·c, one matrix product.
pub fn nearest_code<B: Backend>(x: Tensor<B, 2>, codebook: Tensor<B, 2>) -> Tensor<B, 1, Int> {
    code_scores(x, codebook).argmin(1).flatten(0, 1)
}

/// `‖c‖² − 2 x·c` for every row of `x` and code `c`: `[n, codebook_size]`.
fn code_scores<B: Backend>(x: Tensor<B, 2>, codebook: Tensor<B, 2>) -> Tensor<B, 2> {
    let code_norms = codebook.clone().powi_scalar(2).sum_dim(1).reshape([1, -1]);
    code_norms - x.matmul(codebook.transpose()).mul_scalar(2.0)
}

/// Soft code assignments of a batch, shared by the prefix-collision penalty and the code-usage
/// term: `p_i = softmax_c(−‖r_i − c‖² / T)` (`[n, k]`) with `T = τ · m`, where `m` (`[1]`, a
/// constant of the step) is the mean over rows of the nearest squared distance. The gradient
/// reaches whichever of `residual` and `codebook` the caller did not detach.
pub(crate) fn soft_codes<B: Backend>(
    residual: Tensor<B, 2>,
    codebook: Tensor<B, 2>,
    temperature: f32,
) -> (Tensor<B, 2>, Tensor<B, 1>) {
    let distances = residual.clone().powi_scalar(2).sum_dim(1) + code_scores(residual, codebook);
    let nearest = distances.clone().detach().min_dim(1);
    let mean_nearest = nearest.clone().mean();
    let scale = mean_nearest
        .clone()
        .mul_scalar(temperature)
        .clamp_min(f32::MIN_POSITIVE)
        .reshape([1, 1]);
    // Shifting a row by its minimum leaves the softmax unchanged and keeps exp() in range.
    (softmax((nearest - distances) / scale, 1), mean_nearest)
}

/// The rotation trick (Fifty et al., ICLR 2025): returns a tensor whose value is `q` and whose
/// gradient reaches `e` through the fixed linear map λR, R = I − 2rrᵀ + 2q̂êᵀ, λ = ‖q‖/‖e‖.
///
/// `q` must already be detached. ê, q̂, r and λ are constants. Rows with ‖e‖ ≈ 0 or ê ≈ −q̂ have
/// no well-defined rotation; there the output falls back to the straight-through estimator
/// `e + sg(q − e)`, which has the same forward value.
pub fn rotate_to<B: Backend>(e: Tensor<B, 2>, q: Tensor<B, 2>) -> Tensor<B, 2> {
    const EPS: f32 = 1e-6;
    let e_const = e.clone().detach();
    let e_norm = e_const.clone().powi_scalar(2).sum_dim(1).sqrt();
    let q_norm = q.clone().powi_scalar(2).sum_dim(1).sqrt();
    let e_hat = e_const.clone() / e_norm.clone().clamp_min(EPS);
    let q_hat = q.clone() / q_norm.clone().clamp_min(EPS);
    let sum = e_hat.clone() + q_hat.clone();
    let sum_norm = sum.clone().powi_scalar(2).sum_dim(1).sqrt();
    let r = sum / sum_norm.clone().clamp_min(EPS);
    let lambda = q_norm / e_norm.clone().clamp_min(EPS);

    // R e = e − 2 (r·e) r + 2 (ê·e) q̂, with r, ê, q̂ constant so the map is linear in e.
    let r_dot_e = (r.clone() * e.clone()).sum_dim(1);
    let ehat_dot_e = (e_hat * e.clone()).sum_dim(1);
    let rotated =
        (e.clone() - r * r_dot_e.mul_scalar(2.0) + q_hat * ehat_dot_e.mul_scalar(2.0)) * lambda;

    let straight_through = e.clone() + (q - e_const).detach();
    let degenerate = e_norm.lower_elem(EPS).bool_or(sum_norm.lower_elem(EPS));
    rotated.mask_where(
        degenerate.expand(straight_through.shape()),
        straight_through,
    )
}

impl<B: Backend> ResidualQuantizer<B> {
    pub fn from_codebooks(codebooks: Vec<Tensor<B, 2>>) -> Self {
        Self {
            codebooks: codebooks.into_iter().map(Param::from_tensor).collect(),
        }
    }

    pub fn levels(&self) -> usize {
        self.codebooks.len()
    }

    /// Semantic IDs `[n, levels]` of latents `[n, latent_dim]`.
    pub fn encode(&self, latent: Tensor<B, 2>) -> Tensor<B, 2, Int> {
        let mut residual = latent;
        let mut ids = Vec::with_capacity(self.codebooks.len());
        for codebook in &self.codebooks {
            let codebook = codebook.val();
            let idx = nearest_code(residual.clone(), codebook.clone());
            residual = residual - codebook.select(0, idx.clone());
            ids.push(idx.unsqueeze_dim(1));
        }
        Tensor::cat(ids, 1)
    }

    /// [`Self::encode`] plus every row's decision margin `[n]`: the smallest, over the levels, of
    /// `(second-best score − best score) / (‖z‖ + R)²`, where `z` is the row's latent and `R`
    /// the largest code norm of the level. The denominator bounds the size of the scores, so the
    /// margin says how far (relative to the numbers being rounded) the row is from a tie.
    /// [`crate::canonical`] re-decides rows whose margin is small with the canonical computation.
    pub fn encode_with_margin(&self, latent: Tensor<B, 2>) -> (Tensor<B, 2, Int>, Tensor<B, 1>) {
        let [n, _] = latent.dims();
        let device = latent.device();
        let z_norm = latent.clone().powi_scalar(2).sum_dim(1).sqrt();
        let mut residual = latent;
        let mut ids = Vec::with_capacity(self.codebooks.len());
        let mut margin: Option<Tensor<B, 2>> = None;
        for codebook in &self.codebooks {
            let codebook = codebook.val();
            let [k, _] = codebook.dims();
            let max_code_norm = codebook
                .clone()
                .powi_scalar(2)
                .sum_dim(1)
                .max()
                .sqrt()
                .reshape([1, 1]);
            let scores = code_scores(residual.clone(), codebook.clone());
            let idx = scores.clone().argmin(1);
            let best = scores.clone().min_dim(1);
            // Mask the chosen column only (not every column equal to the best): an exact tie must
            // show up as a zero margin. f32::MAX, not infinity: WGSL has no infinity literal.
            let columns = Tensor::<B, 1, Int>::arange(0..k as i64, &device)
                .reshape([1, k])
                .expand([n, k]);
            let chosen = columns.equal(idx.clone().expand([n, k]));
            let second = scores.mask_fill(chosen, f32::MAX).min_dim(1);
            let scale = (z_norm.clone() + max_code_norm)
                .powi_scalar(2)
                .clamp_min(f32::MIN_POSITIVE);
            let level_margin = (second - best) / scale;
            margin = Some(match margin {
                Some(m) => m.min_pair(level_margin),
                None => level_margin,
            });
            let idx = idx.flatten(0, 1);
            residual = residual - codebook.select(0, idx.clone());
            ids.push(idx.unsqueeze_dim(1));
        }
        let margin = margin.expect("a quantizer has at least one level");
        (Tensor::cat(ids, 1), margin.flatten(0, 1))
    }

    /// The quantized latent `[n, latent_dim]` for IDs `[n, levels]`: the sum of their codes.
    pub fn decode_ids(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [n, _] = ids.dims();
        let mut sum: Option<Tensor<B, 2>> = None;
        for (level, codebook) in self.codebooks.iter().enumerate() {
            let idx = ids.clone().slice([0..n, level..level + 1]).flatten(0, 1);
            let codes = codebook.val().select(0, idx);
            sum = Some(match sum {
                Some(s) => s + codes,
                None => codes,
            });
        }
        sum.expect("a quantizer has at least one level")
    }

    /// The training pass: codes chosen as `balance` says, rotation-trick output, both VQ
    /// losses and, with `collision`, the prefix-collision penalty.
    pub fn forward(
        &self,
        latent: Tensor<B, 2>,
        balance: &Balance,
        collision: Option<&BatchCollision<B>>,
    ) -> QuantizerOutput<B> {
        let device = latent.device();
        let [n, _] = latent.dims();
        let mut prefix = Tensor::<B, 1, Int>::zeros([n], &device);
        let mut collision_loss = Tensor::<B, 1>::zeros([1], &device);
        let mut usage_loss = Tensor::<B, 1>::zeros([1], &device);
        let mut residual = latent;
        let mut quantized: Option<Tensor<B, 2>> = None;
        let mut ids = Vec::with_capacity(self.codebooks.len());
        let mut residuals = Vec::with_capacity(self.codebooks.len());
        let mut codebook_loss = Tensor::<B, 1>::zeros([1], &device);
        let mut commitment_loss = Tensor::<B, 1>::zeros([1], &device);
        for (level, codebook) in self.codebooks.iter().enumerate() {
            let codebook = codebook.val();
            let [k, _] = codebook.dims();
            let residual_const = residual.clone().detach();
            let scores = code_scores(residual_const.clone(), codebook.clone().detach());
            let nearest = scores.clone().argmin(1).flatten(0, 1);
            let code = codebook.clone().select(0, nearest.clone());
            let code_const = code.clone().detach();
            // Balanced codes only set the targets of the two VQ losses; the forward pass keeps the
            // nearest code, so the next level sees the residual inference will give it.
            let target = match balance.epsilon(level) {
                Some(eps) => codebook.clone().select(
                    0,
                    crate::sinkhorn::balanced_codes(scores, eps, balance.iterations),
                ),
                None => code,
            };

            if let Some(c) = collision {
                if let Some(weight) = c.penalty.weight(level) {
                    let penalty = level_penalty(
                        residual.clone(),
                        codebook.clone().detach(),
                        prefix.clone(),
                        c.row_weights.clone(),
                        c.penalty.temperature,
                    );
                    collision_loss = collision_loss + penalty.mul_scalar(weight);
                }
            }
            if let Some(weight) = balance.usage.weight(level) {
                let usage = level_usage(
                    residual_const.clone(),
                    codebook.clone(),
                    balance.usage.temperature,
                );
                usage_loss = usage_loss + usage.mul_scalar(weight);
            }
            prefix = prefix.mul_scalar(k as i64) + nearest.clone();

            codebook_loss = codebook_loss + row_sq_dist(residual_const.clone(), target.clone());
            commitment_loss = commitment_loss + row_sq_dist(residual.clone(), target.detach());

            let level_out = rotate_to(residual.clone(), code_const.clone());
            quantized = Some(match quantized {
                Some(q) => q + level_out,
                None => level_out,
            });
            residuals.push(residual_const);
            ids.push(nearest.unsqueeze_dim(1));
            residual = residual - code_const;
        }
        QuantizerOutput {
            quantized: quantized.expect("a quantizer has at least one level"),
            ids: Tensor::cat(ids, 1),
            codebook_loss,
            commitment_loss,
            residuals,
            collision_loss,
            usage_loss,
        }
    }

    /// Overwrites level `level`'s codebook with `values` (`[codebook_size, latent_dim]`, row-major),
    /// keeping the parameter's identity so the optimizer state stays attached to it.
    pub fn set_codebook(&mut self, level: usize, values: Vec<f32>) {
        let param = self.codebooks.remove(level);
        let param = param.map(|old| {
            let shape = old.shape();
            Tensor::<B, 2>::from_data(TensorData::new(values, shape), &old.device()).require_grad()
        });
        self.codebooks.insert(level, param);
    }
}

/// Mean over rows of the squared L2 distance, as `[1]`.
fn row_sq_dist<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 1> {
    (a - b).powi_scalar(2).sum_dim(1).mean()
}
