//! Batched encode / decode between host arrays and a model on any backend.

use crate::embeddings::Embeddings;
use crate::model::RqVae;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// Rows per forward pass when the caller has no preference: large enough to amortise dispatch,
/// small enough to keep activations (batch × 512 floats) in cache-friendly sizes.
pub const DEFAULT_BATCH: usize = 4096;

/// Uploads `rows × dim` values as a tensor.
pub fn to_tensor<B: Backend>(
    values: &[f32],
    rows: usize,
    dim: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, dim]), device)
}

/// Semantic IDs of every row, row-major `[n, levels]`. The caller checks the dimension.
pub fn encode_ids<B: Backend>(
    model: &RqVae<B>,
    x: &Embeddings,
    batch: usize,
    device: &B::Device,
) -> Vec<u32> {
    let batch = batch.max(1);
    let mut ids = Vec::with_capacity(x.rows() * model.quantizer.levels());
    for start in (0..x.rows()).step_by(batch) {
        let end = (start + batch).min(x.rows());
        let input = to_tensor::<B>(x.slice_rows(start, end), end - start, x.dim(), device);
        let data = model.encode(input).into_data();
        ids.extend(data.iter::<i64>().map(|v| v as u32));
    }
    ids
}

/// Decoder reconstructions for IDs `[n, levels]`, row-major `[n, input_dim]`; `None` without a
/// decoder. The caller checks that every ID is below the codebook size.
pub fn decode_ids<B: Backend>(
    model: &RqVae<B>,
    ids: &[u32],
    levels: usize,
    batch: usize,
    device: &B::Device,
) -> Option<Vec<f32>> {
    model.decoder.as_ref()?;
    let n = ids.len() / levels;
    let batch = batch.max(1);
    let mut out = Vec::new();
    for start in (0..n).step_by(batch) {
        let end = (start + batch).min(n);
        let chunk: Vec<i64> = ids[start * levels..end * levels]
            .iter()
            .map(|&v| v as i64)
            .collect();
        let t =
            Tensor::<B, 2, Int>::from_data(TensorData::new(chunk, [end - start, levels]), device);
        let recon = model.decode(t)?.into_data();
        out.extend(recon.iter::<f32>());
    }
    Some(out)
}

/// IDs, reconstructions and every metric of `model` on `x`. Needs a decoder.
pub fn evaluate_model<B: Backend>(
    model: &RqVae<B>,
    config: &crate::RqVaeConfig,
    x: &Embeddings,
    options: crate::EvalOptions,
    device: &B::Device,
) -> Result<(crate::Metrics, Vec<u32>), crate::WeightsError> {
    let ids = encode_ids(model, x, DEFAULT_BATCH, device);
    let metrics = evaluate_ids(model, config, x, &ids, options, device)?;
    Ok((metrics, ids))
}

/// Every metric of `model` on `x` for given IDs (`[n, levels]`), in the inputs' space (the
/// reconstructions with the input transform undone). Needs a decoder.
pub fn evaluate_ids<B: Backend>(
    model: &RqVae<B>,
    config: &crate::RqVaeConfig,
    x: &Embeddings,
    ids: &[u32],
    options: crate::EvalOptions,
    device: &B::Device,
) -> Result<crate::Metrics, crate::WeightsError> {
    let recon = decode_ids(model, ids, config.levels, DEFAULT_BATCH, device)
        .ok_or(crate::WeightsError::NoDecoder)?;
    Ok(crate::Metrics {
        input_centred: model.input.is_some(),
        ..crate::metrics::evaluate(
            x.as_slice(),
            &recon,
            x.dim(),
            ids,
            config.levels,
            config.codebook_size,
            options,
        )
    })
}
