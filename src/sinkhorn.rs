//! Balanced code assignment for training (Sinkhorn–Knopp, as LC-Rec uses it).
//!
//! Nearest-code assignment lets a few codes take most of a clustered catalog, so a level uses
//! its codebook unevenly and items pile up on the same IDs. During training a level can instead
//! take the assignment of an entropy-regularised transport plan in which every code receives the
//! same share of the batch. The commitment loss then pulls each latent towards its balanced code,
//! so the encoder learns to spread the catalog over the codebook, and nearest-code IDs at
//! inference (which never use this) come out balanced too.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

/// The row-wise argmax of a Sinkhorn plan over `scores` `[n, k]` (lower score = closer code):
/// rows are items with mass `1/n` each, columns codes with mass `1/k` each.
///
/// Scores are first centred and scaled into [−1, 1] over the batch, so `epsilon` (the entropy
/// weight; smaller = closer to a hard balanced matching) does not depend on the latent's scale.
/// The iterations run in the log domain: LC-Rec's ε = 0.003 puts `exp(1/ε)` far beyond f32.
pub fn balanced_codes<B: Backend>(
    scores: Tensor<B, 2>,
    epsilon: f32,
    iterations: usize,
) -> Tensor<B, 1, Int> {
    let [n, k] = scores.dims();
    let high = scores.clone().max().reshape([1, 1]);
    let low = scores.clone().min().reshape([1, 1]);
    let middle = (high.clone() + low).div_scalar(2.0);
    let amplitude = (high - middle.clone()).add_scalar(1e-5);
    let mut log_plan = ((scores - middle) / amplitude).div_scalar(-epsilon);
    let (log_n, log_k) = ((n as f32).ln(), (k as f32).ln());
    for _ in 0..iterations {
        log_plan = log_plan.clone() - log_sum_exp(log_plan, 0).add_scalar(log_k);
        log_plan = log_plan.clone() - log_sum_exp(log_plan, 1).add_scalar(log_n);
    }
    log_plan.argmax(1).flatten(0, 1)
}

/// `log Σ exp(x)` along `dim`, kept as a size-1 dimension; shifted by the maximum so no term
/// overflows.
fn log_sum_exp<B: Backend>(x: Tensor<B, 2>, dim: usize) -> Tensor<B, 2> {
    let peak = x.clone().max_dim(dim);
    (x - peak.clone()).exp().sum_dim(dim).log() + peak
}
