//! The parts of a BERT layer that are not matrix products, on host slices: GELU, LayerNorm,
//! attention over a sequence (scores, softmax, weighted sum).
//!
//! They are written without branches or library calls inside their loops, so that the compiler
//! vectorises them: a GELU per element of the feed-forward layer costs an `exp`, and a scalar
//! `expf` call there would cost as much as the matrix products around it. Natively, the entry
//! points are compiled three times ([`crate::host::dispatch`]) and the widest the CPU runs is
//! chosen at run time (x86-64's baseline is SSE2, which left them at a third of an embedding's
//! time beside gemm's AVX-512 products); in wasm they are SIMD128.

use crate::host::dispatch::dispatch;

/// `e^x` for `x` in [-87, 88] (clamped outside it), to about 2 ulp: `x = n·ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, a degree-6 Taylor polynomial for `e^r`, and `2^n` built in the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n · LN2_HI is exact for the n that occur.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer without a branch.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n as i32 + 127) as u32) << 23) * p
}

/// The error function, to 1.5e-7 absolute in exact arithmetic (Abramowitz and Stegun, 7.1.26);
/// f32 rounding of the sum `1 − …` near 0 adds a few 1e-7.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp(-ax * ax);
    y.copysign(x)
}

dispatch! {
    /// BERT's GELU, the exact (erf) form: `x · (1 + erf(x / √2)) / 2`, in place.
    pub fn gelu(values: &mut [f32]) {
        for v in values {
            let x = *v;
            *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

dispatch! {
    /// Each row of `rows` (`gamma.len()` wide) ← LayerNorm(row + the same row of `residual`):
    /// mean and biased variance over the row, as PyTorch's.
    pub fn add_layer_norm_rows(rows: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let width = gamma.len();
        for (row, res) in rows.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
            for (v, r) in row.iter_mut().zip(res) {
                *v += r;
            }
            layer_norm(row, gamma, beta, eps);
        }
    }
}

/// `row ← (row − mean) / √(var + eps) · gamma + beta`.
#[inline(always)]
pub fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let scale = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * scale * g + b;
    }
}

/// `row ← softmax(row)`.
#[inline(always)]
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `a · b` over equal-length slices, in eight independent sums (vectorisable, and a shorter
/// dependency chain than one running sum).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for i in chunks * 8..a.len() {
        sum += a[i] * b[i];
    }
    sum
}

/// `out += s · x`.
#[inline(always)]
pub fn axpy(out: &mut [f32], s: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += s * v;
    }
}

/// The shape of one batch's attention: sequences packed end to end, `lengths` tokens each.
pub struct Heads<'a> {
    pub lengths: &'a [usize],
    pub heads: usize,
    pub head_dim: usize,
}

dispatch! {
    /// Multi-head self-attention of each sequence over its own tokens: from `qkv`
    /// (`[tokens, 3 · hidden]`, query, key and value side by side, heads side by side in each)
    /// into `context` (`[tokens, hidden]`, zeroed by the caller); `scores` is scratch.
    pub fn attention(qkv: &[f32], context: &mut [f32], scores: &mut Vec<f32>, shape: &Heads) {
        let d = shape.head_dim;
        let h = shape.heads * d;
        let scale = 1.0 / (d as f32).sqrt();
        let mut start = 0;
        for &len in shape.lengths {
            scores.resize(len * len, 0.0);
            for head in 0..shape.heads {
                let q_at = |i: usize| (start + i) * 3 * h + head * d;
                let k_at = |j: usize| (start + j) * 3 * h + h + head * d;
                let v_at = |j: usize| (start + j) * 3 * h + 2 * h + head * d;
                for i in 0..len {
                    let q = &qkv[q_at(i)..q_at(i) + d];
                    let row = &mut scores[i * len..(i + 1) * len];
                    for (j, score) in row.iter_mut().enumerate() {
                        *score = dot(q, &qkv[k_at(j)..k_at(j) + d]) * scale;
                    }
                    softmax(row);
                    let ctx_at = (start + i) * h + head * d;
                    let ctx = &mut context[ctx_at..ctx_at + d];
                    for (j, &p) in row.iter().enumerate() {
                        axpy(ctx, p, &qkv[v_at(j)..v_at(j) + d]);
                    }
                }
            }
            start += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_library_exp() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = x.exp();
            worst = worst.max(((exp(x) - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    #[test]
    fn erf_is_within_its_bound_of_a_series_in_f64() {
        // erf by its Taylor series in f64, converged for |x| ≤ 3, as the reference.
        let series = |x: f64| {
            let (mut term, mut sum) = (x, x);
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        let mut x = -3.0f64;
        while x <= 3.0 {
            let d = (erf(x as f32) as f64 - series(x)).abs();
            assert!(d < 5e-7, "erf({x}) off by {d}");
            x += 0.01;
        }
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row = vec![1.0, 3.0, -2.0, 3.0, 50.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[4] > 0.99 && row[1] == row[3] && row[1] > row[0] && row[0] > row[2]);
    }
}
