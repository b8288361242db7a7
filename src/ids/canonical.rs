//! The cross-backend ID contract: the same embedding gets the same ID on every backend.
//!
//! An ID is, by definition, what [`HostModel::encode`] computes. That computation uses f32
//! arithmetic with a multiply then an add (never fused) in one fixed order, so it yields the same
//! bits natively (x86-64, ARM) and in wasm32, for any batching of the rows.
//!
//! The other backends (burn's ndarray on the CPU, CUDA, WebGPU) sum in their own orders, with or
//! without fused multiply-adds, so their scores differ from the canonical ones in the last bits.
//! Such a difference can only change a decision when the best two codes of a level nearly tie.
//! So a backend also reports each row's decision margin
//! ([`crate::quantizer::ResidualQuantizer::encode_with_margin`]): the smallest, over the levels,
//! of `(second-best score − best score) / (‖z‖ + R)²`, `z` the latent and `R` the level's largest
//! code norm. Rows whose margin is at most [`TIE_MARGIN`] are re-decided by the canonical
//! computation; the others keep the backend's IDs, which then equal the canonical ones.
//!
//! Why a row above the margin is safe: a backend's latent and scores differ from the canonical
//! ones by rounding only. Measured between burn's ndarray and the canonical path on the 16,859
//! items of the project's data, the latents differ by at most 1.4e-6 of their norm. A score
//! difference between two codes moves by at most `2‖δz‖·‖c₁ − c₂‖` plus the rounding of the dot
//! products, both far below `TIE_MARGIN · (‖z‖ + R)²`; 2.4 % of those items fall under the
//! margin and are re-decided. A backend computing in reduced precision (TF32, f16) would need a
//! larger margin; none is used here.

use crate::embeddings::Embeddings;
use crate::host::model::HostModel;
use crate::model::RqVae;
use burn::tensor::backend::Backend;

/// Relative margin under which a backend's decision is re-made canonically.
pub const TIE_MARGIN: f32 = 1e-4;

/// Whether a row with this margin must be re-decided (NaN counts as a tie).
pub fn is_near_tie(margin: f32) -> bool {
    margin.is_nan() || margin <= TIE_MARGIN
}

/// Positions of the margins that must be re-decided.
pub fn near_tie_rows(margins: impl Iterator<Item = f32>) -> impl Iterator<Item = usize> {
    margins
        .enumerate()
        .filter(|&(_, m)| is_near_tie(m))
        .map(|(i, _)| i)
}

/// Replaces the IDs of `rows` (indices into `x`) by their canonical IDs.
pub fn redecide(host: &HostModel, x: &Embeddings, ids: &mut [u32], rows: &[usize]) {
    if rows.is_empty() {
        return;
    }
    let levels = host.levels();
    let canonical = host.encode(&x.gather(rows), rows.len());
    for (&r, id) in rows.iter().zip(canonical.chunks_exact(levels)) {
        ids[r * levels..(r + 1) * levels].copy_from_slice(id);
    }
}

/// IDs computed on a backend, held to the contract.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedIds {
    /// Row-major `[n, levels]`, equal to [`HostModel::encode`]'s.
    pub ids: Vec<u32>,
    /// Rows whose margin was at most [`TIE_MARGIN`], re-decided canonically.
    pub redecided: Vec<usize>,
}

/// IDs of `x` on backend `B`, with near-tie rows re-decided by `host` (the same weights).
pub fn encode_on_backend<B: Backend>(
    model: &RqVae<B>,
    host: &HostModel,
    x: &Embeddings,
    batch: usize,
    device: &B::Device,
) -> CheckedIds {
    let batch = batch.max(1);
    let mut ids = Vec::with_capacity(x.rows() * host.levels());
    let mut redecided = Vec::new();
    for start in (0..x.rows()).step_by(batch) {
        let end = (start + batch).min(x.rows());
        let input = crate::inference::to_tensor::<B>(
            x.slice_rows(start, end),
            end - start,
            x.dim(),
            device,
        );
        let (batch_ids, margins) = model.encode_with_margin(input);
        ids.extend(batch_ids.into_data().iter::<i64>().map(|v| v as u32));
        let margins = margins.into_data();
        redecided.extend(near_tie_rows(margins.iter::<f32>()).map(|i| start + i));
    }
    redecide(host, x, &mut ids, &redecided);
    CheckedIds { ids, redecided }
}

/// Canonical IDs of `x`, spread over the machine's cores where threads exist.
pub fn encode(host: &HostModel, x: &Embeddings) -> Vec<u32> {
    encode_rows(host, x.as_slice(), x.rows())
}

/// [`encode`] on `rows` rows borrowed from elsewhere (a NumPy array), so that they need not be
/// copied into [`Embeddings`]: row-major, `rows × host.input_dim()` values, all finite (the
/// caller checks, e.g. with [`crate::embeddings::check_finite`]).
pub fn encode_rows(host: &HostModel, x: &[f32], rows: usize) -> Vec<u32> {
    let dim = host.input_dim();
    assert_eq!(x.len(), rows * dim, "rows of the model's input dimension");
    let threads = available_threads().min(rows.div_ceil(256)).max(1);
    if threads == 1 {
        return host.encode(x, rows);
    }
    let per_thread = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..rows)
            .step_by(per_thread)
            .map(|start| {
                let end = (start + per_thread).min(rows);
                scope.spawn(move || host.encode(&x[start * dim..end * dim], end - start))
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("an encode thread panicked"))
            .collect()
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// wasm32 without threads: the caller's thread only (the npm package has its own worker pool).
#[cfg(target_arch = "wasm32")]
fn available_threads() -> usize {
    1
}
