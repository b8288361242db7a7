//! How much a set of embeddings shares one direction. Models such as E5, BGE and GTE give
//! vectors whose random pairs have a cosine near 0.9: a quantizer trained on them as they are
//! spends its codes on that common direction and the IDs stop following the items' neighbours,
//! so `train` and `eval` measure it and say so.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Above this mean cosine of random pairs, the embeddings are reported as anisotropic.
pub const ANISOTROPIC_COSINE: f64 = 0.5;

/// Random pairs `train` and `eval` measure (with seed 0), so that both report the figure
/// `train` chose the input transform by.
pub const PAIRS: usize = 10_000;

/// Rows the top direction is estimated from: enough for three digits, bounded for large files.
const MAX_ROWS: usize = 20_000;

/// Power-iteration steps for the top direction.
const ITERATIONS: usize = 50;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Anisotropy {
    /// Mean cosine of random pairs of distinct rows (0 for isotropic unit vectors).
    pub mean_pair_cosine: f64,
    /// Share of the rows' mean squared norm along their top direction: the largest eigenvalue of
    /// the uncentred second moment `E[x xᵀ]` over its trace (`1 / dim` for isotropic data, near
    /// the mean pair cosine when one common direction dominates).
    pub top_direction_share: f64,
    /// Random pairs behind `mean_pair_cosine`.
    pub pairs: usize,
}

impl Anisotropy {
    /// Whether a common direction dominates the embeddings.
    pub fn is_anisotropic(&self) -> bool {
        self.mean_pair_cosine > ANISOTROPIC_COSINE
    }
}

/// The anisotropy of `x` (`[n, dim]` row-major), from `pairs` seeded random pairs and at most
/// 20,000 evenly spaced rows.
pub fn measure(x: &[f32], dim: usize, pairs: usize, seed: u64) -> Anisotropy {
    let n = x.len().checked_div(dim).unwrap_or(0);
    if n < 2 {
        return Anisotropy::default();
    }
    let row = |i: usize| &x[i * dim..(i + 1) * dim];
    let norm = |v: &[f32]| v.iter().map(|a| (a * a) as f64).sum::<f64>().sqrt();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5851_f42d_4c95_7f2d);
    let (mut sum, mut counted) = (0f64, 0usize);
    for _ in 0..pairs {
        let i = rng.random_range(0..n);
        let mut j = rng.random_range(0..n - 1);
        if j >= i {
            j += 1;
        }
        let (a, b) = (row(i), row(j));
        let denom = norm(a) * norm(b);
        if denom > 0.0 {
            let dot: f64 = a.iter().zip(b).map(|(p, q)| (p * q) as f64).sum();
            sum += dot / denom;
            counted += 1;
        }
    }
    let rows: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_ROWS)).collect();
    let trace: f64 = rows.iter().map(|&i| norm(row(i)).powi(2)).sum();
    Anisotropy {
        mean_pair_cosine: if counted > 0 {
            sum / counted as f64
        } else {
            0.0
        },
        top_direction_share: if trace > 0.0 {
            top_eigenvalue(x, dim, &rows) / trace
        } else {
            0.0
        },
        pairs: counted,
    }
}

/// The largest eigenvalue of `Σ_{i ∈ rows} x_i x_iᵀ`, by power iteration from the rows' mean
/// (the direction it finds first when one dominates) plus a fixed tilt (so that zero-mean data
/// does not start at zero).
fn top_eigenvalue(x: &[f32], dim: usize, rows: &[usize]) -> f64 {
    let mut v = vec![0f64; dim];
    for &i in rows {
        v.iter_mut()
            .zip(&x[i * dim..(i + 1) * dim])
            .for_each(|(v, &a)| *v += a as f64);
    }
    v.iter_mut()
        .enumerate()
        .for_each(|(j, v)| *v += 1e-3 * (1.0 + (j % 7) as f64));
    let mut lambda = 0.0;
    for _ in 0..ITERATIONS {
        let length = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if length == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|a| *a /= length);
        let mut w = vec![0f64; dim];
        for &i in rows {
            let r = &x[i * dim..(i + 1) * dim];
            let along: f64 = r.iter().zip(&v).map(|(&a, b)| a as f64 * b).sum();
            w.iter_mut()
                .zip(r)
                .for_each(|(w, &a)| *w += along * a as f64);
        }
        // v is a unit vector, so v·Mv is the Rayleigh quotient.
        lambda = w.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
        v = w;
    }
    lambda
}
