//! The MLPs' forward and backward passes for the CPU engine, with the batch's rows split into one
//! shard per thread.
//!
//! Each thread runs every layer on its own rows with a single-threaded matrix product, so a
//! layer costs no synchronisation between the threads, and the bias, ReLU and mask passes run
//! on rows the thread has just written. A row's activations do not depend on the split; the
//! weight and bias gradients are each shard's sum, added in shard order, so a run is
//! deterministic for a thread count (as the CPU engine's sums were before).

use crate::host::dispatch::dispatch;
use crate::host::matmul::{matmul_serial, View};
use crate::weights::LayerWeights;
use rayon::prelude::*;
use std::ops::Range;

/// Fewest rows a shard gets: below this, the products are too small to be worth a thread.
const MIN_SHARD_ROWS: usize = 64;

/// Contiguous row ranges, one per thread (fewer for small batches), in order.
pub fn shards(rows: usize) -> Vec<Range<usize>> {
    let parts = rayon::current_num_threads()
        .min(rows / MIN_SHARD_ROWS)
        .max(1);
    let step = rows.div_ceil(parts);
    (0..parts)
        .map(|p| (p * step).min(rows)..((p + 1) * step).min(rows))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Splits `buf` (`rows × width`, row-major) into the shards' row blocks.
fn split_rows<'a>(buf: &'a mut [f32], width: usize, shards: &[Range<usize>]) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(shards.len());
    let mut rest = buf;
    for r in shards {
        let (head, tail) = rest.split_at_mut(r.len() * width);
        out.push(head);
        rest = tail;
    }
    out
}

/// Where the gradient of the MLP's last output comes from.
pub enum Top<'a> {
    /// The reconstruction loss `Σ‖y − target‖² / rows` (`target` `[rows, width]`).
    Reconstruction(&'a [f32]),
    /// A given gradient, `[rows, width]`.
    Given(&'a [f32]),
}

/// Buffers kept between steps: each shard's two gradient buffers and, for every shard but the
/// first, its partial weight and bias gradients.
#[derive(Default)]
pub struct MlpWork {
    grad: Vec<[Vec<f32>; 2]>,
    partials: Vec<Vec<LayerWeights>>,
}

/// `acts[i] = act(acts[i-1]·W_i + b_i)` for every layer (`acts[-1]` is `input`), ReLU between
/// layers and none after the last.
pub fn forward(layers: &[LayerWeights], input: &[f32], rows: usize, acts: &mut Vec<Vec<f32>>) {
    acts.resize_with(layers.len(), Vec::new);
    if rows == 0 {
        acts.iter_mut().for_each(Vec::clear);
        return;
    }
    let width_in = input.len() / rows;
    for (act, layer) in acts.iter_mut().zip(layers) {
        act.resize(rows * layer.bias.len(), 0.0);
    }
    let shards = shards(rows);
    // Per shard, its block of every layer's output.
    let mut blocks: Vec<Vec<&mut [f32]>> = shards.iter().map(|_| Vec::new()).collect();
    for (act, layer) in acts.iter_mut().zip(layers) {
        for (b, part) in blocks
            .iter_mut()
            .zip(split_rows(act, layer.bias.len(), &shards))
        {
            b.push(part);
        }
    }
    blocks
        .into_par_iter()
        .zip(shards)
        .for_each(|(mut outs, range)| {
            let n = range.len();
            let mut x: &[f32] = &input[range.start * width_in..range.end * width_in];
            let mut w_in = width_in;
            let last = layers.len() - 1;
            for (i, (layer, out)) in layers.iter().zip(outs.iter_mut()).enumerate() {
                let w_out = layer.bias.len();
                matmul_serial(
                    out,
                    View::new(x, n, w_in),
                    View::new(&layer.weight, w_in, w_out),
                    false,
                );
                if i < last {
                    add_bias_relu(out, &layer.bias);
                } else {
                    add_bias(out, &layer.bias);
                }
                x = &**out;
                w_in = w_out;
            }
        });
}

/// Backward through an MLP whose [`forward`] left `acts`, from the gradient of its output given
/// by `top`: the layers' gradients go to `grads` (overwritten). With `input_grad`, the gradient
/// of `input` is written there (`[rows, input width]`). Returns the reconstruction loss for
/// [`Top::Reconstruction`], else 0.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    layers: &[LayerWeights],
    input: &[f32],
    acts: &[Vec<f32>],
    rows: usize,
    top: Top,
    grads: &mut [LayerWeights],
    input_grad: Option<&mut [f32]>,
    work: &mut MlpWork,
) -> f64 {
    if rows == 0 {
        grads.iter_mut().for_each(|g| {
            g.weight.fill(0.0);
            g.bias.fill(0.0);
        });
        return 0.0;
    }
    let shards = shards(rows);
    let width_in = input.len() / rows;
    let width_top = layers.last().map_or(0, |l| l.bias.len());
    work.grad.resize_with(shards.len(), Default::default);
    let same_shapes = |p: &Vec<LayerWeights>| {
        p.len() == layers.len()
            && p.iter()
                .zip(layers)
                .all(|(p, l)| p.weight.len() == l.weight.len() && p.bias.len() == l.bias.len())
    };
    if !work.partials.iter().all(same_shapes) {
        work.partials.clear();
    }
    work.partials
        .resize_with(shards.len().saturating_sub(1), || {
            layers
                .iter()
                .map(|l| LayerWeights {
                    weight: vec![0.0; l.weight.len()],
                    bias: vec![0.0; l.bias.len()],
                })
                .collect()
        });
    // Shard 0 writes its sums into `grads`; the others into their partials.
    let mut targets: Vec<&mut [LayerWeights]> = vec![&mut *grads];
    targets.extend(work.partials.iter_mut().map(Vec::as_mut_slice));
    let input_grads: Vec<Option<&mut [f32]>> = match input_grad {
        Some(buf) => split_rows(buf, width_in, &shards)
            .into_iter()
            .map(Some)
            .collect(),
        None => shards.iter().map(|_| None).collect(),
    };
    let scale = 2.0 / rows as f32;
    let losses: Vec<f64> = targets
        .into_par_iter()
        .zip(work.grad.par_iter_mut())
        .zip(input_grads)
        .zip(shards.clone())
        .map(|(((target, [g, g_in]), input_grad), range)| {
            let n = range.len();
            let y = &acts[layers.len() - 1][range.start * width_top..range.end * width_top];
            g.resize(n * width_top, 0.0);
            let top_bias = &mut target[layers.len() - 1].bias;
            top_bias.fill(0.0);
            let mut loss = 0f64;
            match &top {
                Top::Reconstruction(t) => {
                    let t = &t[range.start * width_top..range.end * width_top];
                    reconstruction_grad(g, y, t, scale, top_bias, &mut loss);
                }
                Top::Given(given) => {
                    g.copy_from_slice(&given[range.start * width_top..range.end * width_top]);
                    add_rows(g, top_bias);
                }
            }
            let mut input_grad = input_grad;
            for i in (0..layers.len()).rev() {
                let width_out = layers[i].bias.len();
                let w_in = layers[i].weight.len() / width_out;
                let x: &[f32] = if i == 0 {
                    &input[range.start * width_in..range.end * width_in]
                } else {
                    &acts[i - 1][range.start * w_in..range.end * w_in]
                };
                matmul_serial(
                    &mut target[i].weight,
                    View::new(x, n, w_in).t(),
                    View::new(g, n, width_out),
                    false,
                );
                if i == 0 {
                    if let Some(out) = input_grad.take() {
                        matmul_serial(
                            out,
                            View::new(g, n, width_out),
                            View::new(&layers[0].weight, w_in, width_out).t(),
                            false,
                        );
                    }
                    break;
                }
                g_in.resize(n * w_in, 0.0);
                matmul_serial(
                    g_in,
                    View::new(g, n, width_out),
                    View::new(&layers[i].weight, w_in, width_out).t(),
                    false,
                );
                // The layer below ends in a ReLU: its gradient passes where its output is
                // positive, and what passes is that layer's bias gradient.
                let bias = &mut target[i - 1].bias;
                bias.fill(0.0);
                relu_grad(g_in, x, bias);
                std::mem::swap(g, g_in);
            }
            loss
        })
        .collect();
    for partial in &work.partials[..shards.len() - 1] {
        for (g, p) in grads.iter_mut().zip(partial) {
            add(&mut g.weight, &p.weight);
            add(&mut g.bias, &p.bias);
        }
    }
    // Added in shard order, like the gradients.
    losses.iter().sum::<f64>() / rows as f64
}

dispatch! {
    /// `out[r, j] = relu(out[r, j] + bias[j])` for every row `r`.
    pub fn add_bias_relu(out: &mut [f32], bias: &[f32]) {
        for row in out.chunks_exact_mut(bias.len()) {
            row.iter_mut()
                .zip(bias)
                .for_each(|(v, b)| *v = (*v + b).max(0.0));
        }
    }
}

dispatch! {
    /// `out[r, j] += bias[j]` for every row `r`.
    pub fn add_bias(out: &mut [f32], bias: &[f32]) {
        for row in out.chunks_exact_mut(bias.len()) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    }
}

dispatch! {
    /// `sums[j] += Σ_r g[r, j]`, row after row.
    pub fn add_rows(g: &[f32], sums: &mut [f32]) {
        for row in g.chunks_exact(sums.len()) {
            sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    }
}

dispatch! {
    /// The reconstruction loss's gradient `g = scale·(y − t)`, its column sums into `sums`, and
    /// `Σ (y − t)²` (each row's sum in f32, then in f64) into `loss`.
    pub fn reconstruction_grad(
        g: &mut [f32],
        y: &[f32],
        t: &[f32],
        scale: f32,
        sums: &mut [f32],
        loss: &mut f64,
    ) {
        let width = sums.len();
        for ((g, y), t) in g
            .chunks_exact_mut(width)
            .zip(y.chunks_exact(width))
            .zip(t.chunks_exact(width))
        {
            let mut row = 0f32;
            for (((g, y), t), s) in g.iter_mut().zip(y).zip(t).zip(sums.iter_mut()) {
                let d = y - t;
                row += d * d;
                *g = scale * d;
                *s += *g;
            }
            *loss += row as f64;
        }
    }
}

dispatch! {
    /// Through a ReLU whose output was `a`: `g` passes where `a > 0`, and what passes is summed
    /// per column into `sums` (the bias gradient of the layer that ends in that ReLU).
    pub fn relu_grad(g: &mut [f32], a: &[f32], sums: &mut [f32]) {
        let width = sums.len();
        for (g, a) in g.chunks_exact_mut(width).zip(a.chunks_exact(width)) {
            for ((v, &a), s) in g.iter_mut().zip(a).zip(sums.iter_mut()) {
                *v = if a > 0.0 { *v } else { 0.0 };
                *s += *v;
            }
        }
    }
}

/// `out += part`, split over the threads.
fn add(out: &mut [f32], part: &[f32]) {
    out.par_chunks_mut(1 << 14)
        .zip(part.par_chunks(1 << 14))
        .for_each(|(o, p)| o.iter_mut().zip(p).for_each(|(o, p)| *o += p));
}
