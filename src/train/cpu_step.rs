//! The training step's forward and backward passes on host slices, for [`super::CpuEngine`].
//!
//! The math is the burn path's ([`crate::model`], [`crate::quantizer`]) differentiated by hand:
//!
//! - a linear layer `y = x·W + b` gives `dW = xᵀ·dy`, `db = Σ_rows dy`, `dx = dy·Wᵀ`; a ReLU
//!   passes `dy` where its output is positive;
//! - the rotation trick's output `λ(e − 2(r·e)r + 2(ê·e)q̂)` is linear in `e` with constant
//!   `r, ê, q̂, λ`, so `de = λ(g − 2(r·g)r + 2(q̂·g)ê)`; degenerate rows pass `g` straight through;
//! - level `l+1`'s residual is `r_l − sg(c_l)`, so its gradient adds to level `l`'s unchanged;
//! - `‖sg(r) − t‖²` moves code `t` by `2(t − r)`, `‖r − sg(t)‖²` moves `r` by `2(r − t)`
//!   (means over rows divide both by the batch size).
//!
//! - the prefix-collision penalty ([`crate::collision`]) reaches the scores `s = ‖r − c‖²`
//!   through `q = p / ‖p‖` and a softmax: with `g_i = ∂penalty/∂q_i = 2 w_i (S_group − w_i q_i)
//!   / Σw`, `∂penalty/∂p_i = h_i = (g_i − (q_i·g_i) q_i) / ‖p_i‖` and the score gradient is
//!   `G_ic = −p_ic (h_ic − p_i·h_i) / T`, which moves `r_i` by `−2 Σ_c G_ic c` (the codebook is a
//!   constant of the penalty).
//!
//! - the code-usage term ([`crate::code_usage`]) reaches the same scores through the batch's
//!   soft usage `u = mean_i p_i`: `∂usage/∂u_c = m (log u_c + 1)`, so with the softmax the score
//!   gradient is `G_ic = −λ p_ic (log u_c − p_i·log u) / (τ n)` (the `+1` cancels), which moves
//!   code `c` by `2 Σ_i G_ic (c − r_i)` (the residual is a constant of the term).
//!
//! `tests/integration/training.rs` checks the gradients against burn's autodiff on the same weights.

use super::cpu_mlp::{self, MlpWork, Top};
use crate::collision::CollisionPenalty;
use crate::host::matmul::{matmul, View};
use crate::quantizer::Balance;
use crate::weights::{LayerWeights, ModelWeights};
use rayon::prelude::*;

/// Buffers one step needs, kept between steps so that large batches do not page-fault anew.
#[derive(Default)]
pub struct Workspace {
    enc: Vec<Vec<f32>>,
    dec: Vec<Vec<f32>>,
    residuals: Vec<Vec<f32>>,
    nearest: Vec<Vec<u32>>,
    targets: Vec<Vec<u32>>,
    scores: Vec<f32>,
    /// The gradient of the decoder's input (the quantized latent).
    latent_grad: Vec<f32>,
    enc_work: MlpWork,
    dec_work: MlpWork,
    /// Per level, the collision penalty's gradient of the residual (empty when off).
    collision_residual: Vec<Vec<f32>>,
    /// Per level, the code-usage term's gradient of the codebook (empty when off).
    usage_codebook: Vec<Vec<f32>>,
}

/// Loss weights and code assignment of the step.
pub struct Objective<'a> {
    pub codebook_weight: f32,
    pub commitment_weight: f32,
    pub balance: &'a Balance,
    pub collision: &'a CollisionPenalty,
    /// The batch rows' `w_i` of the collision penalty (empty when it is off).
    pub row_weights: &'a [f32],
}

/// The forward values a step reports.
pub struct Forward {
    /// Reconstruction, codebook and commitment losses.
    pub losses: [f64; 3],
    /// Nearest codes, row-major `[rows, levels]`.
    pub ids: Vec<u32>,
    /// Each level's residual, when asked for (else empty).
    pub residuals: Vec<Vec<f32>>,
}

/// `out[j] = Σ_rows g[row, j]`: a bias's gradient. Row blocks are summed in parallel, then
/// added in block order: rayon's own reduction tree depends on work stealing, and a resumed
/// run must repeat an uninterrupted one bit for bit.
fn column_sums(g: &[f32], width: usize, out: &mut [f32]) {
    let blocks: Vec<Vec<f32>> = g
        .par_chunks(width * 256)
        .map(|block| {
            let mut acc = vec![0f32; width];
            for row in block.chunks_exact(width) {
                acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            acc
        })
        .collect();
    out.fill(0.0);
    for block in &blocks {
        out.iter_mut().zip(block).for_each(|(o, b)| *o += b);
    }
}

/// The gradient reaching `e` through the rotation trick's output, whose gradient is `g`
/// (see [`crate::quantizer::rotate_to`] for the forward map and its guards).
fn rotation_backward(e: &[f32], q: &[f32], g: &[f32], out: &mut [f32]) {
    const EPS: f32 = 1e-6;
    let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
    let (e_norm, q_norm) = (norm(e), norm(q));
    let (e_div, q_div) = (e_norm.max(EPS), q_norm.max(EPS));
    let sum_norm = e
        .iter()
        .zip(q)
        .map(|(a, b)| {
            let s = a / e_div + b / q_div;
            s * s
        })
        .sum::<f32>()
        .sqrt();
    if e_norm < EPS || sum_norm < EPS {
        out.copy_from_slice(g);
        return;
    }
    let r_div = sum_norm.max(EPS);
    let lambda = q_norm / e_div;
    let (mut r_dot_g, mut q_dot_g) = (0f32, 0f32);
    for ((a, b), gv) in e.iter().zip(q).zip(g) {
        r_dot_g += (a / e_div + b / q_div) / r_div * gv;
        q_dot_g += b / q_div * gv;
    }
    for (((o, a), b), gv) in out.iter_mut().zip(e).zip(q).zip(g) {
        let r = (a / e_div + b / q_div) / r_div;
        *o = lambda * (gv - 2.0 * r_dot_g * r + 2.0 * q_dot_g * (a / e_div));
    }
}

/// `‖c‖² − 2 x·c` for every row of `x` (`[rows, dim]`) and code, into `scores` `[rows, k]`.
fn code_scores(x: &[f32], codebook: &[f32], dim: usize, scores: &mut Vec<f32>) {
    let (rows, k) = (x.len() / dim, codebook.len() / dim);
    scores.resize(rows * k, 0.0);
    matmul(
        scores,
        View::new(x, rows, dim),
        View::new(codebook, k, dim).t(),
        false,
    );
    let norms: Vec<f32> = codebook
        .chunks_exact(dim)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    scores.par_chunks_mut(k * 64).for_each(|block| {
        for row in block.chunks_exact_mut(k) {
            row.iter_mut()
                .zip(&norms)
                .for_each(|(s, n)| *s = n - 2.0 * *s);
        }
    });
}

/// Each row's first minimum. Two passes (the minimum, then its first position) vectorise where a
/// compare-and-branch loop would not; rows are split over the threads.
fn argmin_rows(scores: &[f32], k: usize) -> Vec<u32> {
    scores
        .par_chunks(k)
        .map(|row| {
            let low = row.iter().copied().fold(f32::INFINITY, f32::min);
            row.iter().position(|&s| s == low).unwrap_or(0) as u32
        })
        .collect()
}

/// Balanced targets through the burn implementation of Sinkhorn on the CPU backend (an
/// optional recipe; its cost is small next to the step's products).
fn balanced_targets(
    scores: &[f32],
    rows: usize,
    k: usize,
    epsilon: f32,
    iterations: usize,
) -> Vec<u32> {
    use burn::tensor::{Tensor, TensorData};
    type Cpu = burn::backend::NdArray<f32>;
    let device = Default::default();
    let scores = Tensor::<Cpu, 2>::from_data(TensorData::new(scores.to_vec(), [rows, k]), &device);
    crate::sinkhorn::balanced_codes(scores, epsilon, iterations)
        .into_data()
        .iter::<i64>()
        .map(|v| v as u32)
        .collect()
}

/// A batch's soft code assignments, shared by the collision penalty and the code-usage term.
struct SoftCodes {
    /// `p_i = softmax_c(−s_ic / T)`, row-major `[rows, k]`.
    p: Vec<f32>,
    /// `T = τ · m`, where `m` is the mean over rows of the nearest squared distance.
    t: f32,
}

/// [`SoftCodes`] of residuals `r` (`[rows, dim]`) from `scores` (`‖c‖² − 2 r·c`) and each
/// row's `nearest` code, at temperature `τ = temperature`.
fn soft_codes(r: &[f32], scores: &[f32], nearest: &[u32], temperature: f32) -> SoftCodes {
    let rows = nearest.len().max(1);
    let (k, dim) = (scores.len() / rows, r.len() / rows);
    // m: the nearest squared distances are ‖r‖² + min_c score.
    let minima: Vec<f32> = nearest
        .iter()
        .enumerate()
        .map(|(i, &c)| scores[i * k + c as usize])
        .collect();
    let nearest_sum: f64 = r
        .chunks_exact(dim)
        .zip(&minima)
        .map(|(rv, &low)| (rv.iter().map(|v| v * v).sum::<f32>() + low) as f64)
        .sum();
    let t = ((nearest_sum / rows as f64) as f32 * temperature).max(f32::MIN_POSITIVE);
    let mut p = vec![0f32; rows * k];
    p.par_chunks_mut(k)
        .zip(scores.par_chunks(k))
        .zip(&minima)
        .for_each(|((p, s), &low)| {
            let mut total = 0f32;
            for (p, &s) in p.iter_mut().zip(s) {
                *p = (-(s - low) / t).exp();
                total += *p;
            }
            p.iter_mut().for_each(|v| *v /= total);
        });
    SoftCodes { p, t }
}

/// The gradient of one level's collision penalty (see [`crate::collision`]) for the residual
/// `r` (`[rows, dim]`, into `grad_r`), scaled by `weight`; the codebook gets none. `scores` are
/// `‖c‖² − 2 r·c` (the per-row `‖r‖²` does not change a softmax) and `nearest` each row's
/// argmin of them; `prefix` numbers each row's group.
#[allow(clippy::too_many_arguments)]
fn collision_grads(
    r: &[f32],
    codebook: &[f32],
    scores: &[f32],
    nearest: &[u32],
    prefix: &[u64],
    row_weights: &[f32],
    weight: f32,
    temperature: f32,
    grad_r: &mut Vec<f32>,
) {
    let rows = prefix.len().max(1);
    let (k, dim) = (scores.len() / rows, r.len() / rows);
    let SoftCodes { p, t } = soft_codes(r, scores, nearest, temperature);
    // Directions q_i = p_i / ‖p_i‖ (p has a positive entry, so ‖p‖ > 0).
    let norms: Vec<f32> = p
        .chunks_exact(k)
        .map(|p| p.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    let mut q = p.clone();
    q.par_chunks_mut(k)
        .zip(&norms)
        .for_each(|(q, &n)| q.iter_mut().for_each(|v| *v /= n));
    // Group sums S_g = Σ w_i q_i over rows sorted by prefix, and g_i = ∂penalty/∂q_i.
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by_key(|&i| prefix[i]);
    let total_weight: f32 = row_weights.iter().sum::<f32>().max(1.0);
    let mut g = vec![0f32; rows * k];
    let mut start = 0;
    while start < rows {
        let mut end = start + 1;
        while end < rows && prefix[order[end]] == prefix[order[start]] {
            end += 1;
        }
        let mut sum = vec![0f32; k];
        for &i in &order[start..end] {
            let w = row_weights[i];
            sum.iter_mut()
                .zip(&q[i * k..(i + 1) * k])
                .for_each(|(s, &q)| *s += w * q);
        }
        for &i in &order[start..end] {
            let w = row_weights[i];
            let (qi, gi) = (&q[i * k..(i + 1) * k], &mut g[i * k..(i + 1) * k]);
            for ((gv, &s), &qv) in gi.iter_mut().zip(&sum).zip(qi) {
                *gv = 2.0 * w * (s - w * qv) / total_weight;
            }
        }
        start = end;
    }
    // Through the normalisation, ∂q/∂p = (I − q qᵀ) / ‖p‖; then the softmax, scaled by the
    // level's weight: G = −p (g − p·g) / T.
    g.par_chunks_mut(k)
        .zip(p.par_chunks(k).zip(q.par_chunks(k)))
        .zip(&norms)
        .for_each(|((g, (p, q)), &norm)| {
            let along: f32 = g.iter().zip(q).map(|(a, b)| a * b).sum();
            g.iter_mut()
                .zip(q)
                .for_each(|(g, &q)| *g = (*g - along * q) / norm);
            let dot: f32 = g.iter().zip(p).map(|(a, b)| a * b).sum();
            g.iter_mut()
                .zip(p)
                .for_each(|(g, &p)| *g = -weight * p * (*g - dot) / t);
        });
    // ∂s/∂r = −2c.
    grad_r.clear();
    grad_r.resize(rows * dim, 0.0);
    matmul(
        grad_r,
        View::new(&g, rows, k),
        View::new(codebook, k, dim),
        false,
    );
    grad_r.iter_mut().for_each(|v| *v *= -2.0);
}

/// The gradient of one level's code-usage term (see [`crate::code_usage`]) for its codebook
/// (`[k, dim]`, into `grad_c`), scaled by `weight`; the residual `r` gets none. `scores` and
/// `nearest` are as for [`collision_grads`].
fn usage_grads(
    r: &[f32],
    codebook: &[f32],
    scores: &[f32],
    nearest: &[u32],
    weight: f32,
    temperature: f32,
    grad_c: &mut Vec<f32>,
) {
    let rows = nearest.len().max(1);
    let (k, dim) = (scores.len() / rows, r.len() / rows);
    let SoftCodes { mut p, .. } = soft_codes(r, scores, nearest, temperature);
    let mut usage = vec![0f64; k];
    for p in p.chunks_exact(k) {
        usage.iter_mut().zip(p).for_each(|(u, &p)| *u += p as f64);
    }
    let log_usage: Vec<f32> = usage
        .iter()
        .map(|&u| ((u / rows as f64) as f32).max(f32::MIN_POSITIVE).ln())
        .collect();
    // The score gradient G overwrites p row by row (λ m / T = λ / τ).
    let factor = weight / (temperature * rows as f32);
    p.par_chunks_mut(k).for_each(|p| {
        let dot: f32 = p.iter().zip(&log_usage).map(|(a, b)| a * b).sum();
        p.iter_mut()
            .zip(&log_usage)
            .for_each(|(g, &l)| *g = -factor * *g * (l - dot));
    });
    // ∂s_ic/∂c = 2(c − r_i): 2 (c Σ_i G_ic − Σ_i G_ic r_i).
    grad_c.clear();
    grad_c.resize(k * dim, 0.0);
    matmul(
        grad_c,
        View::new(&p, rows, k).t(),
        View::new(r, rows, dim),
        false,
    );
    let mut column = vec![0f32; k];
    column_sums(&p, k, &mut column);
    grad_c
        .chunks_exact_mut(dim)
        .zip(codebook.chunks_exact(dim))
        .zip(&column)
        .for_each(|((g, c), &sum)| {
            g.iter_mut()
                .zip(c)
                .for_each(|(g, &c)| *g = 2.0 * (c * sum - *g))
        });
}

/// Decoder forward from `latent`, the reconstruction loss against `x` (returned), and decoder
/// backward: the decoder's gradients go to `grads`, the latent's to `work.latent_grad`.
fn decoder_pass(
    decoder: &[LayerWeights],
    latent: &[f32],
    x: &[f32],
    rows: usize,
    grads: &mut ModelWeights,
    work: &mut Workspace,
) -> f64 {
    cpu_mlp::forward(decoder, latent, rows, &mut work.dec);
    let dec_grads = grads.decoder.as_mut().expect("gradients mirror the model");
    work.latent_grad.resize(latent.len(), 0.0);
    cpu_mlp::backward(
        decoder,
        latent,
        &work.dec,
        rows,
        Top::Reconstruction(x),
        dec_grads,
        Some(&mut work.latent_grad),
        &mut work.dec_work,
    )
}

/// Encoder backward from the latent's gradient `latent_grad` (the input needs none).
fn encoder_backward(
    model: &ModelWeights,
    x: &[f32],
    rows: usize,
    latent_grad: &[f32],
    grads: &mut ModelWeights,
    work: &mut Workspace,
) {
    cpu_mlp::backward(
        &model.encoder,
        x,
        &work.enc,
        rows,
        Top::Given(latent_grad),
        &mut grads.encoder,
        None,
        &mut work.enc_work,
    );
}

/// The encoder's output for `x` (`[rows, input_dim]`), without keeping anything for backward.
pub fn latents(model: &ModelWeights, x: &[f32], rows: usize, work: &mut Workspace) -> Vec<f32> {
    cpu_mlp::forward(&model.encoder, x, rows, &mut work.enc);
    work.enc.last().cloned().unwrap_or_default()
}

/// Forward and backward of the full loss on batch `x`; gradients go to `grads` (same shapes as
/// `model`, overwritten).
pub fn loss_and_grads(
    model: &ModelWeights,
    x: &[f32],
    rows: usize,
    objective: &Objective,
    grads: &mut ModelWeights,
    work: &mut Workspace,
    keep_residuals: bool,
) -> Forward {
    let dim = model.config.latent_dim;
    let decoder = model.decoder.as_ref().expect("training builds a decoder");
    let scale = 1.0 / rows as f32;
    cpu_mlp::forward(&model.encoder, x, rows, &mut work.enc);
    let mut residual = work.enc.last().expect("an encoder has layers").clone();
    let mut quantized = vec![0f32; rows * dim];
    let (mut codebook_loss, levels) = (0f64, model.codebooks.len());
    work.residuals.resize_with(levels, Vec::new);
    work.nearest.resize_with(levels, Vec::new);
    work.targets.resize_with(levels, Vec::new);
    work.collision_residual.resize_with(levels, Vec::new);
    work.usage_codebook.resize_with(levels, Vec::new);
    let mut prefix = vec![0u64; rows];
    for (level, codebook) in model.codebooks.iter().enumerate() {
        let k = codebook.len() / dim;
        code_scores(&residual, codebook, dim, &mut work.scores);
        let nearest = argmin_rows(&work.scores, k);
        work.collision_residual[level].clear();
        if let Some(weight) = objective.collision.weight(level) {
            collision_grads(
                &residual,
                codebook,
                &work.scores,
                &nearest,
                &prefix,
                objective.row_weights,
                weight,
                objective.collision.temperature,
                &mut work.collision_residual[level],
            );
        }
        work.usage_codebook[level].clear();
        if let Some(weight) = objective.balance.usage.weight(level) {
            usage_grads(
                &residual,
                codebook,
                &work.scores,
                &nearest,
                weight,
                objective.balance.usage.temperature,
                &mut work.usage_codebook[level],
            );
        }
        prefix
            .iter_mut()
            .zip(&nearest)
            .for_each(|(p, &c)| *p = *p * k as u64 + c as u64);
        let targets = match objective.balance.epsilon.get(level).copied() {
            Some(eps) if eps > 0.0 => {
                balanced_targets(&work.scores, rows, k, eps, objective.balance.iterations)
            }
            _ => nearest.clone(),
        };
        for (row, (&c, &t)) in nearest.iter().zip(&targets).enumerate() {
            let r = &residual[row * dim..(row + 1) * dim];
            let target = &codebook[t as usize * dim..(t as usize + 1) * dim];
            codebook_loss += r
                .iter()
                .zip(target)
                .map(|(a, b)| ((a - b) * (a - b)) as f64)
                .sum::<f64>();
            let code = &codebook[c as usize * dim..(c as usize + 1) * dim];
            let q = &mut quantized[row * dim..(row + 1) * dim];
            q.iter_mut().zip(code).for_each(|(q, c)| *q += c);
        }
        work.residuals[level].clear();
        work.residuals[level].extend_from_slice(&residual);
        for (row, &c) in nearest.iter().enumerate() {
            let code = &codebook[c as usize * dim..(c as usize + 1) * dim];
            residual[row * dim..(row + 1) * dim]
                .iter_mut()
                .zip(code)
                .for_each(|(r, c)| *r -= c);
        }
        work.nearest[level] = nearest;
        work.targets[level] = targets;
    }
    codebook_loss /= rows as f64;

    let recon_loss = decoder_pass(decoder, &quantized, x, rows, grads, work);
    // work.latent_grad is now the gradient of the quantized latent.
    let mut through = vec![0f32; rows * dim];
    for level in (0..levels).rev() {
        let codebook = &model.codebooks[level];
        let (e_all, g_q) = (&work.residuals[level], &work.latent_grad);
        let (nearest, targets) = (&work.nearest[level], &work.targets[level]);
        let block = 512;
        // Each block of rows accumulates its own codebook gradient; the blocks' sums are added
        // in block order (deterministic, unlike rayon's reduction tree).
        let blocks: Vec<Vec<f32>> = through
            .par_chunks_mut(block * dim)
            .enumerate()
            .map(|(b, through)| {
                let mut code_grad = vec![0f32; codebook.len()];
                let mut row_grad = vec![0f32; dim];
                for (i, through) in through.chunks_exact_mut(dim).enumerate() {
                    let row = b * block + i;
                    let span = row * dim..(row + 1) * dim;
                    let e = &e_all[span.clone()];
                    let (c, t) = (nearest[row] as usize, targets[row] as usize);
                    let code = &codebook[c * dim..(c + 1) * dim];
                    rotation_backward(e, code, &g_q[span], &mut row_grad);
                    let target = &codebook[t * dim..(t + 1) * dim];
                    let tg = &mut code_grad[t * dim..(t + 1) * dim];
                    for j in 0..dim {
                        let diff = e[j] - target[j];
                        through[j] +=
                            row_grad[j] + 2.0 * scale * objective.commitment_weight * diff;
                        tg[j] -= 2.0 * scale * objective.codebook_weight * diff;
                    }
                }
                code_grad
            })
            .collect();
        let code_grad = &mut grads.codebooks[level];
        code_grad.fill(0.0);
        for block in &blocks {
            code_grad.iter_mut().zip(block).for_each(|(g, b)| *g += b);
        }
        code_grad
            .iter_mut()
            .zip(&work.usage_codebook[level])
            .for_each(|(g, u)| *g += u);
        if !work.collision_residual[level].is_empty() {
            through
                .iter_mut()
                .zip(&work.collision_residual[level])
                .for_each(|(g, c)| *g += c);
        }
    }
    encoder_backward(model, x, rows, &through, grads, work);

    let mut ids = vec![0u32; rows * levels];
    for (level, nearest) in work.nearest.iter().enumerate() {
        for (row, &c) in nearest.iter().enumerate() {
            ids[row * levels + level] = c;
        }
    }
    Forward {
        // The two VQ losses have the same value, ‖r − t‖²; they differ only in which side the
        // gradient stops at.
        losses: [recon_loss, codebook_loss, codebook_loss],
        ids,
        residuals: if keep_residuals {
            work.residuals.clone()
        } else {
            Vec::new()
        },
    }
}

/// Forward and backward of the plain autoencoder (quantizer bypassed); returns the
/// reconstruction loss. Codebook gradients are left at zero.
pub fn autoencoder_grads(
    model: &ModelWeights,
    x: &[f32],
    rows: usize,
    grads: &mut ModelWeights,
    work: &mut Workspace,
) -> f64 {
    let decoder = model.decoder.as_ref().expect("training builds a decoder");
    cpu_mlp::forward(&model.encoder, x, rows, &mut work.enc);
    let latent = work.enc.last().expect("an encoder has layers").clone();
    let loss = decoder_pass(decoder, &latent, x, rows, grads, work);
    let latent_grad = std::mem::take(&mut work.latent_grad);
    encoder_backward(model, x, rows, &latent_grad, grads, work);
    work.latent_grad = latent_grad;
    grads.codebooks.iter_mut().for_each(|c| c.fill(0.0));
    loss
}
