//! Placing the graph in 2-D (UMAP's optimisation, McInnes et al. 2018, §3.2 and its reference
//! code): stochastic gradient descent that pulls each edge's ends together as often as its
//! weight says and pushes random pairs apart, with a learning rate falling to zero. It starts
//! from the latents' two principal components, so that far-apart groups begin far apart and
//! the result does not hinge on a random start.

use super::graph::Graph;
use super::knn::below;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// The curve `1 / (1 + a·d^(2b))` that UMAP fits for `min_dist = 0.1`, `spread = 1` (its
/// defaults): how strongly two points at distance `d` on the map count as neighbours.
const A: f32 = 1.576_943_5;
const B: f32 = 0.895_060_9;
const CLIP: f32 = 4.0;

/// `x^B` for `x > 0`, as `2^(B·log2 x)` with polynomial `log2` and `2^f` (relative error below
/// 5·10⁻⁴, far below what the descent's noise notices): `powf` costs more than the rest of a
/// step, and as plain arithmetic the map comes out the same on every platform.
#[inline]
fn pow_b(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Least-squares fits on [1, 2) around 1.5 and on [0, 1): absolute errors 2·10⁻⁴ and
    // relative 2·10⁻⁴, as low a degree as the descent allows.
    let t = m - 1.5;
    let log2_m = 0.584_954_3
        + t * (0.961_168_4 + t * (-0.319_919_36 + t * (0.153_913_53 - 0.079_150_37 * t)));
    // `B < 1` keeps `y` within ±126 for every finite positive `x`; `floor` by integer
    // conversion, because without SSE4.1 `f32::floor` is a call into libm.
    let y = B * (exponent as f32 + log2_m);
    let whole = y as i32 - (y < 0.0) as i32;
    let f = y - whole as f32;
    let two_f = 0.999_812 + f * (0.696_838_6 + f * (0.224_126_44 + f * 0.079_019_94));
    f32::from_bits(((whole + 127) as u32) << 23) * two_f
}

/// The two leading principal components of `data`, each scaled to [0, 10] as UMAP scales its
/// start, with a little seeded jitter so that identical rows do not coincide.
pub fn pca_start(data: &[f32], dim: usize, seed: u64) -> Vec<f32> {
    let rows = data.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for r in data.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows.max(1) as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for r in data.chunks_exact(dim) {
        for (c, (&v, m)) in centred.iter_mut().zip(r.iter().zip(&mean)) {
            *c = v as f64 - m;
        }
        for a in 0..dim {
            let ca = centred[a];
            for b in a..dim {
                cov[a * dim + b] += ca * centred[b];
            }
        }
    }
    for a in 0..dim {
        for b in 0..a {
            cov[a * dim + b] = cov[b * dim + a];
        }
    }
    // Power iteration with deflation: a 32 × 32 matrix converges in well under 200 steps.
    let mut components: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 5) as f64)
            .collect();
        for _ in 0..200 {
            let mut w = vec![0.0f64; dim];
            for a in 0..dim {
                w[a] = (0..dim).map(|b| cov[a * dim + b] * v[b]).sum();
            }
            for p in &components {
                let dot: f64 = w.iter().zip(p).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(p).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        components.push(v);
    }
    let mut out = vec![0.0f32; rows * 2];
    for (r, row) in data.chunks_exact(dim).enumerate() {
        for (c, p) in components.iter().enumerate() {
            out[r * 2 + c] = row
                .iter()
                .zip(p)
                .zip(&mean)
                .map(|((&x, y), m)| (x as f64 - m) * y)
                .sum::<f64>() as f32;
        }
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    for c in 0..2 {
        let (lo, hi) = out
            .iter()
            .skip(c)
            .step_by(2)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        for v in out.iter_mut().skip(c).step_by(2) {
            let jitter = (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 1e-3;
            *v = 10.0 * (*v - lo) / span + jitter;
        }
    }
    out
}

/// The state of the descent between calls, so that the page can draw the map as it settles.
pub struct Descent {
    pub epochs: usize,
    pub done: usize,
    negative_rate: f32,
    heads: Vec<u32>,
    tails: Vec<u32>,
    epochs_per_sample: Vec<f32>,
    next_sample: Vec<f32>,
    next_negative: Vec<f32>,
    rng: Xoshiro256PlusPlus,
}

impl Descent {
    /// Edges weaker than `1/epochs` of the strongest would be sampled less than once: dropped,
    /// as UMAP drops them.
    pub fn new(graph: Graph, epochs: usize, negative_rate: usize, seed: u64) -> Self {
        let max = graph.weights.iter().copied().fold(0.0f32, f32::max);
        let keep: Vec<usize> = (0..graph.weights.len())
            .filter(|&e| graph.weights[e] * epochs as f32 >= max)
            .collect();
        let heads: Vec<u32> = keep.iter().map(|&e| graph.heads[e]).collect();
        let tails: Vec<u32> = keep.iter().map(|&e| graph.tails[e]).collect();
        let epochs_per_sample: Vec<f32> = keep.iter().map(|&e| max / graph.weights[e]).collect();
        let next_negative = epochs_per_sample
            .iter()
            .map(|&e| e / negative_rate as f32)
            .collect();
        Self {
            epochs,
            done: 0,
            negative_rate: negative_rate as f32,
            next_sample: epochs_per_sample.clone(),
            heads,
            tails,
            epochs_per_sample,
            next_negative,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Runs up to `count` more epochs on `positions` (`rows × 2`); returns the epochs done.
    pub fn run(&mut self, positions: &mut [f32], count: usize) -> usize {
        let rows = positions.len() / 2;
        let end = (self.done + count).min(self.epochs);
        while self.done < end {
            let n = self.done as f32;
            let alpha = 1.0 - n / self.epochs as f32;
            for e in 0..self.heads.len() {
                if self.next_sample[e] > n {
                    continue;
                }
                let j = self.heads[e] as usize;
                let k = self.tails[e] as usize;
                let (dx, dy) = (
                    positions[2 * j] - positions[2 * k],
                    positions[2 * j + 1] - positions[2 * k + 1],
                );
                let d2 = dx * dx + dy * dy;
                if d2 > 0.0 {
                    let pb = pow_b(d2);
                    let coeff = -2.0 * A * B * pb / d2 / (A * pb + 1.0);
                    let gx = (coeff * dx).clamp(-CLIP, CLIP) * alpha;
                    let gy = (coeff * dy).clamp(-CLIP, CLIP) * alpha;
                    positions[2 * j] += gx;
                    positions[2 * j + 1] += gy;
                    positions[2 * k] -= gx;
                    positions[2 * k + 1] -= gy;
                }
                self.next_sample[e] += self.epochs_per_sample[e];
                let negatives = ((n - self.next_negative[e]) * self.negative_rate
                    / self.epochs_per_sample[e]) as usize;
                // The pushes are computed from the same position of `j` and applied together:
                // one after another, each waited for the last (a chain of `pow`s and divisions),
                // which made them most of the descent's time.
                let (jx, jy) = (positions[2 * j], positions[2 * j + 1]);
                let (mut sx, mut sy) = (0.0f32, 0.0f32);
                for _ in 0..negatives {
                    let other = below(&mut self.rng, rows);
                    if other == j {
                        continue;
                    }
                    let (dx, dy) = (jx - positions[2 * other], jy - positions[2 * other + 1]);
                    let d2 = dx * dx + dy * dy;
                    if d2 > 0.0 {
                        let coeff = 2.0 * B / ((0.001 + d2) * (A * pow_b(d2) + 1.0));
                        sx += (coeff * dx).clamp(-CLIP, CLIP);
                        sy += (coeff * dy).clamp(-CLIP, CLIP);
                    } else {
                        sx += CLIP;
                        sy += CLIP;
                    }
                }
                positions[2 * j] += sx * alpha;
                positions[2 * j + 1] += sy * alpha;
                self.next_negative[e] +=
                    negatives as f32 * self.epochs_per_sample[e] / self.negative_rate;
            }
            self.done += 1;
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_polynomial_power_is_within_five_ten_thousandths_of_powf() {
        let mut x = 1e-6f32;
        while x < 1e6 {
            let (fast, exact) = (super::pow_b(x), x.powf(super::B));
            assert!(
                (fast - exact).abs() <= 5e-4 * exact,
                "{x}: {fast} vs {exact}"
            );
            x *= 1.37;
        }
    }
}
