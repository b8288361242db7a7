//! The trained model's inference (encode and decode) on host memory, without a tensor library:
//! the browser's CPU backend.
//!
//! It computes what [`crate::RqVae::encode`] and [`crate::RqVae::decode`] compute — the same
//! layers, the same `‖c‖² − 2 x·c` code scores, the same first-minimum tie rule — with the
//! kernel of [`crate::dense`]. burn ndarray in wasm reached about half of native single-thread
//! speed and made up a fifth of the module; this path is faster and small. The WebGPU backend
//! and every native path run the burn model itself, and the tests hold the two to identical IDs.

use crate::host::dense::PackedDense;
use crate::input_transform::InputTransform;
use crate::weights::{LayerWeights, ModelWeights, WeightsError};

/// Rows pushed through the whole network at a time: the activations of 64 rows (at most
/// 64 × 512 floats per layer) stay in cache while every layer's weights stream past them once.
const ROW_BLOCK: usize = 64;

/// One level of the quantizer as a dense layer: `W = −2 Cᵀ` and `b = ‖c‖²`, so that row `r` of
/// its output is `‖c‖² − 2 x·c`, the squared distance to each code less the row's own `‖x‖²`.
/// (Scaling by −2 is exact, so these are the scores burn computes, summed in kernel order.)
#[derive(Debug, Clone)]
struct Level {
    scores: PackedDense,
    codes: Vec<f32>,
    /// The largest code norm: the scale of the fast path's decision margin.
    max_code_norm: f32,
}

#[derive(Debug, Clone)]
pub struct HostModel {
    input: Option<InputTransform>,
    encoder: Vec<PackedDense>,
    levels: Vec<Level>,
    decoder: Option<Vec<PackedDense>>,
    latent_dim: usize,
    codebook_size: usize,
    fingerprint: String,
}

fn pack_mlp(layers: &[LayerWeights], widths: &[usize]) -> Vec<PackedDense> {
    layers
        .iter()
        .zip(widths.windows(2))
        .map(|(l, w)| PackedDense::new(&l.weight, &l.bias, w[0], w[1]))
        .collect()
}

/// Buffers reused across row blocks, so that encode and decode allocate once per call.
#[derive(Default)]
struct Scratch {
    /// Layer outputs, alternating between the two.
    a: Vec<f32>,
    b: Vec<f32>,
    /// The interleaved input rows of [`PackedDense::forward`].
    rows: Vec<f32>,
    /// A block of inputs after the input transform.
    input: Vec<f32>,
}

/// `x`'s rows as the encoder takes them: `x` itself, or its transform written into `buffer`.
fn encoder_input<'a>(
    input: &Option<InputTransform>,
    x: &'a [f32],
    buffer: &'a mut Vec<f32>,
) -> &'a [f32] {
    match input {
        Some(t) => {
            t.apply_into(x, buffer);
            buffer
        }
        None => x,
    }
}

/// Runs `x` (`rows × layers[0].inputs()`) through an MLP with ReLU between layers; returns the
/// last layer's output, which lives in `scratch`.
fn mlp_forward<'s, const FUSED: bool>(
    layers: &[PackedDense],
    x: &[f32],
    rows: usize,
    scratch: &'s mut Scratch,
) -> &'s [f32] {
    let (mut src, mut dst) = (&mut scratch.a, &mut scratch.b);
    let last = layers.len() - 1;
    for (i, layer) in layers.iter().enumerate() {
        dst.resize(rows * layer.outputs(), 0.0);
        let input: &[f32] = if i == 0 { x } else { src };
        layer.forward::<FUSED>(input, rows, dst, i < last, &mut scratch.rows);
        std::mem::swap(&mut src, &mut dst);
    }
    &src[..rows * layers[last].outputs()]
}

impl HostModel {
    /// Whether [`Self::encode_fast`] sums with fused multiply-adds on this build (see
    /// [`crate::lanes`]); without them it is [`Self::encode`].
    pub const FUSED: bool = crate::host::lanes::FUSED;

    /// Packs `weights`, after the same shape checks as the weights reader (weights built by
    /// hand may disagree with their config).
    pub fn new(weights: &ModelWeights) -> Result<Self, WeightsError> {
        weights.check_shapes()?;
        let c = &weights.config;
        let levels = weights
            .codebooks
            .iter()
            .map(|codes| {
                let (size, dim) = (c.codebook_size, c.latent_dim);
                let mut w = vec![0.0; dim * size];
                let mut norms = vec![0.0; size];
                for (j, code) in codes.chunks_exact(dim).enumerate() {
                    for (d, &v) in code.iter().enumerate() {
                        w[d * size + j] = -2.0 * v;
                    }
                    norms[j] = code.iter().map(|v| v * v).sum();
                }
                Level {
                    max_code_norm: norms.iter().fold(0.0f32, |m, &n| m.max(n)).sqrt(),
                    scores: PackedDense::new(&w, &norms, dim, size),
                    codes: codes.clone(),
                }
            })
            .collect();
        Ok(Self {
            input: weights.input.clone(),
            encoder: pack_mlp(&weights.encoder, &c.encoder_widths()),
            levels,
            decoder: weights
                .decoder
                .as_ref()
                .map(|d| pack_mlp(d, &c.decoder_widths())),
            latent_dim: c.latent_dim,
            codebook_size: c.codebook_size,
            fingerprint: crate::ids::fingerprint::model_fingerprint(weights),
        })
    }

    pub fn input_dim(&self) -> usize {
        self.encoder[0].inputs()
    }

    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// [`crate::ids::fingerprint::model_fingerprint`] of the weights this model was built from.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn has_decoder(&self) -> bool {
        self.decoder.is_some()
    }

    /// Semantic IDs, row-major `rows × levels`, of `x` (`rows × input_dim`, finite).
    ///
    /// This is the canonical computation of an ID (see [`crate::canonical`]): it gives the same
    /// bits on every target and for any batching of the rows.
    pub fn encode(&self, x: &[f32], rows: usize) -> Vec<u32> {
        self.encode_impl::<false>(x, rows, None, None)
    }

    /// [`Self::encode`]'s IDs, faster where fused multiply-adds exist ([`crate::host::lanes::FUSED`]):
    /// the rows are encoded with them, and rows whose decision margin is within
    /// [`crate::ids::canonical::TIE_MARGIN`] of a tie are encoded again canonically, as the other
    /// backends' are (see [`crate::canonical`]). Returns the IDs and how many rows were re-decided.
    pub fn encode_fast(&self, x: &[f32], rows: usize) -> (Vec<u32>, usize) {
        if !crate::host::lanes::FUSED {
            return (self.encode(x, rows), 0);
        }
        let mut margins = Vec::with_capacity(rows);
        let mut ids = self.encode_impl::<true>(x, rows, None, Some(&mut margins));
        let ties: Vec<usize> = crate::ids::canonical::near_tie_rows(margins.into_iter()).collect();
        let dim = self.input_dim();
        let levels = self.levels();
        let mut tied = Vec::with_capacity(ties.len() * dim);
        for &r in &ties {
            tied.extend_from_slice(&x[r * dim..(r + 1) * dim]);
        }
        let canonical = self.encode(&tied, ties.len());
        for (&r, id) in ties.iter().zip(canonical.chunks_exact(levels)) {
            ids[r * levels..(r + 1) * levels].copy_from_slice(id);
        }
        (ids, ties.len())
    }

    /// [`Self::encode`], plus every row's scores at the last level (`rows × codebook_size`):
    /// `‖c‖² − 2 r·c` for the residual `r` the last level quantizes. The lowest score is the
    /// row's last code; the order of the others is the model's own ranking of alternatives.
    pub fn encode_with_last_scores(&self, x: &[f32], rows: usize) -> (Vec<u32>, Vec<f32>) {
        let mut last = Vec::with_capacity(rows * self.codebook_size);
        let ids = self.encode_impl::<false>(x, rows, Some(&mut last), None);
        (ids, last)
    }

    /// The encoder's outputs (the latents the quantizer sees), row-major `rows × latent_dim`.
    pub fn latents(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let dim = self.input_dim();
        assert_eq!(x.len(), rows * dim, "x is not rows × input_dim");
        let mut out = Vec::with_capacity(rows * self.latent_dim);
        let mut scratch = Scratch::default();
        for start in (0..rows).step_by(ROW_BLOCK) {
            let n = ROW_BLOCK.min(rows - start);
            let mut buffer = std::mem::take(&mut scratch.input);
            let block = encoder_input(&self.input, &x[start * dim..(start + n) * dim], &mut buffer);
            out.extend_from_slice(mlp_forward::<false>(&self.encoder, block, n, &mut scratch));
            scratch.input = buffer;
        }
        out
    }

    /// Each level's codebook, `codebook_size × latent_dim` row-major.
    pub fn codebook(&self, level: usize) -> &[f32] {
        &self.levels[level].codes
    }

    pub fn codebook_size(&self) -> usize {
        self.codebook_size
    }

    /// IDs of `x`; `last` receives the last level's scores, `margins` each row's decision margin
    /// (the smallest over the levels of `(second-best − best score) / (‖z‖ + R)²`, `z` the latent,
    /// `R` the level's largest code norm, as [`crate::quantizer`] defines it for the backends).
    fn encode_impl<const FUSED: bool>(
        &self,
        x: &[f32],
        rows: usize,
        mut last: Option<&mut Vec<f32>>,
        mut margins: Option<&mut Vec<f32>>,
    ) -> Vec<u32> {
        let dim = self.input_dim();
        assert_eq!(x.len(), rows * dim, "x is not rows × input_dim");
        let levels = self.levels();
        let mut ids = Vec::with_capacity(rows * levels);
        let mut scratch = Scratch::default();
        let mut scores = vec![0.0; ROW_BLOCK * self.codebook_size];
        let mut residual = Vec::with_capacity(ROW_BLOCK * self.latent_dim);
        let mut block_ids = vec![0u32; ROW_BLOCK * levels];
        for start in (0..rows).step_by(ROW_BLOCK) {
            let n = ROW_BLOCK.min(rows - start);
            let mut buffer = std::mem::take(&mut scratch.input);
            let block = encoder_input(&self.input, &x[start * dim..(start + n) * dim], &mut buffer);
            let latent = mlp_forward::<FUSED>(&self.encoder, block, n, &mut scratch);
            residual.clear();
            residual.extend_from_slice(latent);
            scratch.input = buffer;
            let latent_norms: Vec<f32> = if margins.is_some() {
                residual
                    .chunks_exact(self.latent_dim)
                    .map(|z| z.iter().map(|v| v * v).sum::<f32>().sqrt())
                    .collect()
            } else {
                Vec::new()
            };
            let first_margin = margins.as_ref().map_or(0, |m| m.len());
            if let Some(m) = margins.as_mut() {
                m.resize(first_margin + n, f32::INFINITY);
            }
            for (l, level) in self.levels.iter().enumerate() {
                level
                    .scores
                    .forward::<FUSED>(&residual, n, &mut scores, false, &mut scratch.rows);
                if l == levels - 1 {
                    if let Some(last) = last.as_mut() {
                        last.extend_from_slice(&scores[..n * self.codebook_size]);
                    }
                }
                for r in 0..n {
                    let row = &scores[r * self.codebook_size..(r + 1) * self.codebook_size];
                    let (best, second) = first_min_and_runner_up(row);
                    block_ids[r * levels + l] = best as u32;
                    if let Some(m) = margins.as_mut() {
                        let scale = (latent_norms[r] + level.max_code_norm)
                            .powi(2)
                            .max(f32::MIN_POSITIVE);
                        let margin = (second - row[best]) / scale;
                        let slot = &mut m[first_margin + r];
                        // NaN stays NaN (a tie): min would drop it.
                        *slot = if margin.is_nan() || slot.is_nan() {
                            f32::NAN
                        } else {
                            slot.min(margin)
                        };
                    }
                    let code = &level.codes[best * self.latent_dim..(best + 1) * self.latent_dim];
                    let res = &mut residual[r * self.latent_dim..(r + 1) * self.latent_dim];
                    res.iter_mut().zip(code).for_each(|(v, c)| *v -= c);
                }
            }
            ids.extend_from_slice(&block_ids[..n * levels]);
        }
        ids
    }

    /// Reconstructions, row-major `rows × input_dim`, of IDs `rows × levels` (each below the
    /// codebook size); `None` without a decoder.
    pub fn decode(&self, ids: &[u32]) -> Option<Vec<f32>> {
        let decoder = self.decoder.as_ref()?;
        let levels = self.levels();
        let rows = ids.len() / levels;
        let out_dim = decoder[decoder.len() - 1].outputs();
        let mut out = Vec::with_capacity(rows * out_dim);
        let mut scratch = Scratch::default();
        let mut latent = Vec::with_capacity(ROW_BLOCK * self.latent_dim);
        for start in (0..rows).step_by(ROW_BLOCK) {
            let n = ROW_BLOCK.min(rows - start);
            latent.clear();
            for row in ids[start * levels..(start + n) * levels].chunks_exact(levels) {
                // The sum of the row's codes, level by level, as the quantizer adds them.
                let at = latent.len();
                latent.resize(at + self.latent_dim, 0.0);
                for (level, &id) in self.levels.iter().zip(row) {
                    let id = id as usize;
                    let code = &level.codes[id * self.latent_dim..(id + 1) * self.latent_dim];
                    latent[at..].iter_mut().zip(code).for_each(|(v, c)| *v += c);
                }
            }
            out.extend_from_slice(mlp_forward::<false>(decoder, &latent, n, &mut scratch));
        }
        if let Some(t) = &self.input {
            t.invert_in_place(&mut out);
        }
        Some(out)
    }
}

/// Index of the first minimum (the tie rule of burn's `argmin`) and the smallest other value
/// (`f32::MAX` for a single column; NaN scores are never either), in one pass.
fn first_min_and_runner_up(row: &[f32]) -> (usize, f32) {
    let (mut best, mut low, mut second) = (0, row[0], f32::MAX);
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v < low {
            second = low;
            (best, low) = (j, v);
        } else if v < second {
            second = v;
        }
    }
    (best, second)
}

#[cfg(test)]
mod tests {
    use super::first_min_and_runner_up;

    #[test]
    fn runner_up_is_the_smallest_other_score() {
        assert_eq!(first_min_and_runner_up(&[3.0, 1.0, 2.0, 5.0]), (1, 2.0));
        assert_eq!(first_min_and_runner_up(&[1.0, 3.0, 2.0]), (0, 2.0));
        // A tie: the first minimum wins and the runner-up equals it (margin 0).
        assert_eq!(first_min_and_runner_up(&[4.0, 1.0, 1.0]), (1, 1.0));
        assert_eq!(first_min_and_runner_up(&[7.0]), (0, f32::MAX));
        // NaN is never chosen later and never the runner-up; a NaN first score stays chosen,
        // as burn's argmin keeps index 0, and its margin comes out NaN (a tie).
        let (best, second) = first_min_and_runner_up(&[2.0, f32::NAN, 1.5]);
        assert_eq!((best, second), (2, 2.0));
        let (best, second) = first_min_and_runner_up(&[f32::NAN, 3.0, 2.0]);
        assert_eq!((best, second), (0, 2.0));
    }
}
