//! A dense layer `y = act(x·W + b)` on host slices, packed for a register-blocked kernel.
//!
//! This is the browser's CPU path (see [`crate::host::model`]). Measured in Node on the full
//! catalog, burn ndarray in wasm spent 63 % of encode time in matrixmultiply's SIMD128
//! kernel (8×8, which needs more than the 16 vector registers V8 has on x86-64, so it spills)
//! and another ~20 % in ndarray's broadcast loops for the bias and the ReLU. Here the kernel
//! keeps 4 rows × 8 columns of sums in 8 registers, reads each weight once per 4 rows, and adds
//! the bias and applies the ReLU while the sums are still in registers.

use crate::host::lanes::F32x4;

/// Columns per packed panel: two 4-lane vectors.
const NR: usize = 8;
/// Rows per kernel call.
const MR: usize = 4;

/// `W` (`[k, n]` row-major) regrouped into panels of [`NR`] columns, each `k × NR` contiguous
/// and zero-padded past `n`, so the kernel reads weights sequentially.
#[derive(Debug, Clone)]
pub struct PackedDense {
    k: usize,
    n: usize,
    panels: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedDense {
    /// Packs `weight` (`[k, n]`, row-major) and `bias` (`[n]`). The caller has checked the sizes.
    pub fn new(weight: &[f32], bias: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(weight.len(), k * n, "weight is not k × n");
        assert_eq!(bias.len(), n, "bias is not n");
        let panel_count = n.div_ceil(NR);
        let mut panels = vec![0.0; panel_count * k * NR];
        for (p, panel) in panels.chunks_exact_mut(k * NR).enumerate() {
            for (row, dst) in panel.chunks_exact_mut(NR).enumerate() {
                let cols = (p * NR)..((p + 1) * NR).min(n);
                let src = &weight[row * n + cols.start..row * n + cols.end];
                dst[..src.len()].copy_from_slice(src);
            }
        }
        let mut padded_bias = vec![0.0; panel_count * NR];
        padded_bias[..n].copy_from_slice(bias);
        Self {
            k,
            n,
            panels,
            bias: padded_bias,
        }
    }

    pub fn inputs(&self) -> usize {
        self.k
    }

    pub fn outputs(&self) -> usize {
        self.n
    }

    /// `out[r] = act(x[r]·W + b)` for `rows` rows; `x` is `rows × k`, `out` is `rows × n`.
    /// `scratch` holds the interleaved rows; callers reuse it across calls so that the hot loop
    /// does not allocate. With `FUSED`, the sums use fused multiply-adds where the target has
    /// them (see [`crate::lanes`]): faster, and equal to the canonical sums up to rounding only.
    pub fn forward<const FUSED: bool>(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        relu: bool,
        scratch: &mut Vec<f32>,
    ) {
        assert!(
            x.len() >= rows * self.k,
            "x holds fewer than rows × k values"
        );
        assert!(
            out.len() >= rows * self.n,
            "out holds fewer than rows × n values"
        );
        let full_blocks = rows / MR;
        // Each block of 4 rows, interleaved once and reused for every panel.
        scratch.resize(full_blocks * MR * self.k, 0.0);
        for (b, dst) in scratch.chunks_exact_mut(MR * self.k).enumerate() {
            for r in 0..MR {
                let row = &x[(b * MR + r) * self.k..(b * MR + r + 1) * self.k];
                for (i, &v) in row.iter().enumerate() {
                    dst[i * MR + r] = v;
                }
            }
        }
        let packed = &scratch[..];
        for p in 0..self.n.div_ceil(NR) {
            let panel = &self.panels[p * self.k * NR..(p + 1) * self.k * NR];
            let bias = &self.bias[p * NR..(p + 1) * NR];
            let col = p * NR;
            let cols = NR.min(self.n - col);
            for b in 0..full_blocks {
                let r = b * MR;
                let mut tile = [[F32x4::zero(); 2]; MR];
                let a = &packed[b * MR * self.k..(b + 1) * MR * self.k];
                // SAFETY: a holds MR × k values, the panel k × NR.
                unsafe { kernel_4x8::<FUSED>(self.k, a, panel, &mut tile) };
                self.write(&tile, bias, relu, &mut out[r * self.n..], col, cols);
            }
            for r in full_blocks * MR..rows {
                let mut tile = [[F32x4::zero(); 2]; 1];
                // SAFETY: row r exists in x, the panel is k × NR.
                unsafe {
                    kernel_1x8::<FUSED>(self.k, x[r * self.k..].as_ptr(), panel, &mut tile[0])
                };
                self.write(&tile, bias, relu, &mut out[r * self.n..], col, cols);
            }
        }
    }

    /// Adds the bias, applies the activation and stores `tile` at `out[row][col..col+cols]`.
    #[inline(always)]
    fn write<const R: usize>(
        &self,
        tile: &[[F32x4; 2]; R],
        bias: &[f32],
        relu: bool,
        out: &mut [f32],
        col: usize,
        cols: usize,
    ) {
        // SAFETY: bias holds NR values.
        let (b0, b1) = unsafe {
            (
                F32x4::load(bias.as_ptr()),
                F32x4::load(bias.as_ptr().add(4)),
            )
        };
        for (r, acc) in tile.iter().enumerate() {
            let mut v = [acc[0].add(b0), acc[1].add(b1)];
            if relu {
                v = [v[0].relu(), v[1].relu()];
            }
            let dst = &mut out[r * self.n + col..r * self.n + col + cols];
            if cols == NR {
                // SAFETY: dst holds NR values.
                unsafe {
                    v[0].store(dst.as_mut_ptr());
                    v[1].store(dst.as_mut_ptr().add(4));
                }
            } else {
                let mut tmp = [0.0f32; NR];
                // SAFETY: tmp holds NR values.
                unsafe {
                    v[0].store(tmp.as_mut_ptr());
                    v[1].store(tmp.as_mut_ptr().add(4));
                }
                dst.copy_from_slice(&tmp[..cols]);
            }
        }
    }
}

/// `c + a·w`, fused when `FUSED` (a macro, not a closure: the sum must be inlined into the
/// kernel, which is where the `relaxed-simd` target feature is enabled).
macro_rules! madd {
    ($fused:expr, $c:expr, $a:expr, $w:expr) => {
        if $fused {
            $c.fused_mul_add($a, $w)
        } else {
            $c.mul_add($a, $w)
        }
    };
}

/// Sums of 4 rows times one `k × 8` panel, into `tile`. `a` holds the 4 rows interleaved
/// (`a[4i + r]` is row `r`, column `i`) so that one pointer walks both operands.
///
/// # Safety
/// `a` must hold `4k` values and `panel` `8k`.
#[inline(never)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "relaxed-simd")
)]
unsafe fn kernel_4x8<const FUSED: bool>(
    k: usize,
    a: &[f32],
    panel: &[f32],
    tile: &mut [[F32x4; 2]; MR],
) {
    let mut w = panel.as_ptr();
    let mut x = a.as_ptr();
    let [[mut c00, mut c01], [mut c10, mut c11], [mut c20, mut c21], [mut c30, mut c31]] = *tile;
    for _ in 0..k {
        let w0 = F32x4::load(w);
        let w1 = F32x4::load(w.add(4));
        let a = F32x4::splat(*x);
        c00 = madd!(FUSED, c00, a, w0);
        c01 = madd!(FUSED, c01, a, w1);
        let a = F32x4::splat(*x.add(1));
        c10 = madd!(FUSED, c10, a, w0);
        c11 = madd!(FUSED, c11, a, w1);
        let a = F32x4::splat(*x.add(2));
        c20 = madd!(FUSED, c20, a, w0);
        c21 = madd!(FUSED, c21, a, w1);
        let a = F32x4::splat(*x.add(3));
        c30 = madd!(FUSED, c30, a, w0);
        c31 = madd!(FUSED, c31, a, w1);
        w = w.add(NR);
        x = x.add(MR);
    }
    *tile = [[c00, c01], [c10, c11], [c20, c21], [c30, c31]];
}

/// [`kernel_4x8`] for a single row: the rows left over after the blocks of 4.
///
/// # Safety
/// `x` must have `k` readable values; `panel` must hold `k × 8` values.
#[inline(never)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "relaxed-simd")
)]
unsafe fn kernel_1x8<const FUSED: bool>(
    k: usize,
    x: *const f32,
    panel: &[f32],
    tile: &mut [F32x4; 2],
) {
    let mut w = panel.as_ptr();
    let [mut c0, mut c1] = *tile;
    for i in 0..k {
        let a = F32x4::splat(*x.add(i));
        c0 = madd!(FUSED, c0, a, F32x4::load(w));
        c1 = madd!(FUSED, c1, a, F32x4::load(w.add(4)));
        w = w.add(NR);
    }
    *tile = [c0, c1];
}
