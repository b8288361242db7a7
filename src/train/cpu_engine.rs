//! The CPU engine: the model as host vectors, hand-written backward passes
//! ([`super::cpu_step`]) on packed multi-threaded matrix products ([`crate::host::matmul`]), and
//! AdamW with burn's exact update rule.
//!
//! Why it exists: burn-ndarray's autodiff step ran at about half of PyTorch's speed on the
//! same CPU, with its time spread over per-op allocation, broadcasting and a matrix product
//! that does not pack for the step's shapes. The math is the burn engine's; only the execution
//! differs. It saves burn's checkpoint format, so either engine resumes the other's runs.

use super::cpu_step::{self, Objective, Workspace};
use super::engine::{Engine, StepRecipe, StepTotals};
use super::flat_adamw::{BETA_1, BETA_2, EPSILON};
use super::TrainConfig;
use crate::collision::first_occurrence_weights;
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::weights::LayerWeights;
use crate::weights::ModelWeights;
use burn::backend::{Autodiff, NdArray};
use burn::module::ParamId;
use burn::optim::record::AdaptorRecord;
use burn::optim::{AdamW, AdaptiveMomentumState};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::{Tensor, TensorData};
use std::path::Path;

type Host = NdArray<f32>;
type Train = Autodiff<Host>;
/// What the burn engine's optimizer saves: AdamW's state keyed by parameter id.
type Record = super::flat_adamw::Record<Train>;

/// The CPU engine's device: rayon's global pool sets its threads (`RAYON_NUM_THREADS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuDevice;

/// AdamW's running moments of one parameter.
#[derive(Clone)]
struct Moments {
    first: Vec<f32>,
    second: Vec<f32>,
    /// Steps taken; 0 means the parameter has no optimizer state yet.
    time: usize,
}

pub struct CpuEngine {
    model: ModelWeights,
    grads: ModelWeights,
    moments: Vec<Moments>,
    weight_decay: f32,
    data: Vec<f32>,
    dim: usize,
    batch: Vec<f32>,
    /// The collision penalty's `w_i` of every data row (empty when the recipe does not use it).
    row_weights: Vec<f32>,
    work: Workspace,
    totals: StepTotals,
}

/// Every parameter of `w` in [`super::param_order`] order, with its shape.
fn tensors(w: &ModelWeights) -> Vec<(&Vec<f32>, Vec<usize>)> {
    fn mlp(layers: &[LayerWeights], widths: Vec<usize>) -> Vec<(&Vec<f32>, Vec<usize>)> {
        layers
            .iter()
            .zip(widths.windows(2))
            .flat_map(|(l, w)| [(&l.weight, vec![w[0], w[1]]), (&l.bias, vec![w[1]])])
            .collect()
    }
    let c = &w.config;
    let mut out = mlp(&w.encoder, c.encoder_widths());
    out.extend(
        w.codebooks
            .iter()
            .map(|b| (b, vec![c.codebook_size, c.latent_dim])),
    );
    if let Some(d) = &w.decoder {
        out.extend(mlp(d, c.decoder_widths()));
    }
    out
}

fn tensors_mut(w: &mut ModelWeights) -> Vec<&mut Vec<f32>> {
    let mut out: Vec<&mut Vec<f32>> = w
        .encoder
        .iter_mut()
        .flat_map(|l| [&mut l.weight, &mut l.bias])
        .collect();
    out.extend(w.codebooks.iter_mut());
    if let Some(d) = &mut w.decoder {
        out.extend(d.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]));
    }
    out
}

/// Copies data rows `rows` (`dim` values each) into `out`, split over rayon's threads.
fn gather(data: &[f32], dim: usize, rows: &[usize], out: &mut Vec<f32>) {
    use rayon::prelude::*;
    out.resize(rows.len() * dim, 0.0);
    out.par_chunks_mut(dim)
        .zip(rows)
        .for_each(|(dst, &r)| dst.copy_from_slice(&data[r * dim..(r + 1) * dim]));
}

fn objective<'a>(recipe: &'a StepRecipe, row_weights: &'a [f32]) -> Objective<'a> {
    Objective {
        codebook_weight: recipe.codebook_weight,
        commitment_weight: recipe.commitment_weight,
        balance: &recipe.balance,
        collision: &recipe.collision,
        row_weights,
    }
}

/// burn's AdamW update (`burn::optim::AdamW`, decoupled weight decay), in the same f32 order;
/// element-wise, so splitting it over the threads changes no value.
fn adamw(param: &mut [f32], grad: &[f32], m: &mut Moments, lr: f64, weight_decay: f32) {
    use rayon::prelude::*;
    if m.time == 0 {
        m.first = vec![0.0; param.len()];
        m.second = vec![0.0; param.len()];
    }
    m.time += 1;
    let t = m.time as i32;
    let (c1, c2) = (1f32 - BETA_1.powi(t), 1f32 - BETA_2.powi(t));
    let decay = (1.0 - lr * weight_decay as f64) as f32;
    let lr = lr as f32;
    const CHUNK: usize = 1 << 14;
    param
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks(CHUNK))
        .zip(m.first.par_chunks_mut(CHUNK))
        .zip(m.second.par_chunks_mut(CHUNK))
        .for_each(|(((param, grad), first), second)| {
            for (((p, &g), m1), m2) in param.iter_mut().zip(grad).zip(first).zip(second) {
                *m1 = *m1 * BETA_1 + g * (1.0 - BETA_1);
                *m2 = *m2 * BETA_2 + g * g * (1.0 - BETA_2);
                let delta = (*m1 / c1) / ((*m2 / c2).sqrt() + EPSILON);
                *p = *p * decay - delta * lr;
            }
        });
}

impl CpuEngine {
    fn new(
        model: ModelWeights,
        moments: Vec<Moments>,
        train: &TrainConfig,
        data: &Embeddings,
    ) -> Self {
        Self {
            grads: model.clone(),
            model,
            moments,
            weight_decay: train.weight_decay,
            data: data.as_slice().to_vec(),
            dim: data.dim(),
            batch: Vec::new(),
            row_weights: if train.collision_penalty().is_on() {
                first_occurrence_weights(data.as_slice(), data.dim())
            } else {
                Vec::new()
            },
            work: Workspace::default(),
            totals: StepTotals::default(),
        }
    }

    /// The collision penalty's `w_i` of data rows `rows` (empty when the recipe does not use it).
    fn weights_of(&self, rows: &[usize]) -> Vec<f32> {
        if self.row_weights.is_empty() {
            Vec::new()
        } else {
            rows.iter().map(|&r| self.row_weights[r]).collect()
        }
    }

    /// AdamW on every parameter, or on all but the codebooks (the autoencoder warm-up gives
    /// them no gradient, and burn leaves a parameter without gradient untouched).
    fn update(&mut self, lr: f64, codebooks: bool) {
        let (enc, levels) = (self.model.encoder.len() * 2, self.model.codebooks.len());
        let grads: Vec<&Vec<f32>> = tensors(&self.grads).into_iter().map(|(g, _)| g).collect();
        for (i, param) in tensors_mut(&mut self.model).into_iter().enumerate() {
            if !codebooks && (enc..enc + levels).contains(&i) {
                continue;
            }
            adamw(param, grads[i], &mut self.moments[i], lr, self.weight_decay);
        }
    }
}

impl Engine for CpuEngine {
    type Device = CpuDevice;

    /// The same initial weights as the burn engine on burn's CPU backend with the same seed.
    fn init(config: &RqVaeConfig, train: &TrainConfig, data: &Embeddings, cpu: &CpuDevice) -> Self {
        use burn::tensor::backend::Backend;
        let device = Default::default();
        Host::seed(&device, train.seed);
        let model = ModelWeights::from_model(&config.init::<Host>(&device), config);
        Self::from_weights(&model, train, data, cpu)
    }

    fn from_weights(
        weights: &ModelWeights,
        train: &TrainConfig,
        data: &Embeddings,
        _: &CpuDevice,
    ) -> Self {
        let count = tensors(weights).len();
        let empty = Moments {
            first: Vec::new(),
            second: Vec::new(),
            time: 0,
        };
        Self::new(weights.clone(), vec![empty; count], train, data)
    }

    fn restore(
        weights: &ModelWeights,
        optimizer: &Path,
        param_ids: &[u64],
        train: &TrainConfig,
        data: &Embeddings,
        _: &CpuDevice,
    ) -> Result<Self, String> {
        let shapes: Vec<Vec<usize>> = tensors(weights).into_iter().map(|(_, s)| s).collect();
        if shapes.len() != param_ids.len() {
            return Err(format!(
                "state.json lists {} parameters, the model has {}",
                param_ids.len(),
                shapes.len()
            ));
        }
        let mut saved: Record = Recorder::<Train>::load(
            &BinFileRecorder::<FullPrecisionSettings>::new(),
            optimizer.to_path_buf(),
            &Default::default(),
        )
        .map_err(|e| format!("optimizer state: {e}"))?;
        let mut moments = Vec::with_capacity(shapes.len());
        for (&id, shape) in param_ids.iter().zip(&shapes) {
            let state = saved.remove(&ParamId::from(id));
            let momentum = match (state, shape.len()) {
                (None, _) => None,
                (Some(r), 1) => Some(read_momentum(r.into_state::<1>().momentum)),
                (Some(r), _) => Some(read_momentum(r.into_state::<2>().momentum)),
            };
            moments.push(momentum.unwrap_or(Moments {
                first: Vec::new(),
                second: Vec::new(),
                time: 0,
            }));
        }
        if !saved.is_empty() {
            return Err("optimizer state for an unknown parameter".into());
        }
        Ok(Self::new(weights.clone(), moments, train, data))
    }

    fn latents(&self, rows: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * self.model.config.latent_dim);
        let mut work = Workspace::default();
        let mut x = Vec::new();
        for block in rows.chunks(4096) {
            gather(&self.data, self.dim, block, &mut x);
            out.extend(cpu_step::latents(&self.model, &x, block.len(), &mut work));
        }
        out
    }

    fn codebook(&self, level: usize) -> Vec<f32> {
        self.model.codebooks[level].clone()
    }

    fn set_codebook(&mut self, level: usize, values: Vec<f32>) {
        self.model.codebooks[level] = values;
    }

    fn step(
        &mut self,
        rows: &[usize],
        lr: f64,
        recipe: &StepRecipe,
        keep_residuals: bool,
    ) -> Vec<Vec<f32>> {
        gather(&self.data, self.dim, rows, &mut self.batch);
        let weights = self.weights_of(rows);
        let forward = cpu_step::loss_and_grads(
            &self.model,
            &self.batch,
            rows.len(),
            &objective(recipe, &weights),
            &mut self.grads,
            &mut self.work,
            keep_residuals,
        );
        self.update(lr, true);
        let (levels, k) = (self.model.codebooks.len(), self.model.config.codebook_size);
        let counts = &mut self.totals.counts;
        counts.resize(levels * k, 0);
        for (i, &id) in forward.ids.iter().enumerate() {
            counts[(i % levels) * k + id as usize] += 1;
        }
        for (sum, loss) in self.totals.losses.iter_mut().zip(forward.losses) {
            *sum += loss;
        }
        forward.residuals
    }

    fn take_totals(&mut self) -> StepTotals {
        std::mem::take(&mut self.totals)
    }

    fn gradients(&self, rows: &[usize], recipe: &StepRecipe) -> ModelWeights {
        let mut x = Vec::new();
        gather(&self.data, self.dim, rows, &mut x);
        let mut grads = self.model.clone();
        let weights = self.weights_of(rows);
        cpu_step::loss_and_grads(
            &self.model,
            &x,
            rows.len(),
            &objective(recipe, &weights),
            &mut grads,
            &mut Workspace::default(),
            false,
        );
        grads
    }

    fn autoencoder_step(&mut self, rows: &[usize], lr: f64) {
        gather(&self.data, self.dim, rows, &mut self.batch);
        let loss = cpu_step::autoencoder_grads(
            &self.model,
            &self.batch,
            rows.len(),
            &mut self.grads,
            &mut self.work,
        );
        self.update(lr, false);
        self.totals.losses[0] += loss;
    }

    fn weights(&self) -> ModelWeights {
        self.model.clone()
    }

    fn save_optimizer(&self, path: &Path) -> Result<Vec<u64>, String> {
        let ids: Vec<ParamId> = self.moments.iter().map(|_| ParamId::new()).collect();
        let mut record = Record::default();
        for ((m, (_, shape)), id) in self.moments.iter().zip(tensors(&self.model)).zip(&ids) {
            if m.time == 0 {
                continue;
            }
            let entry = if shape.len() == 1 {
                record_entry::<1>(m, &shape)
            } else {
                record_entry::<2>(m, &shape)
            };
            record.insert(*id, entry);
        }
        Recorder::<Train>::record(
            &BinFileRecorder::<FullPrecisionSettings>::new(),
            record,
            path.to_path_buf(),
        )
        .map_err(|e| e.to_string())?;
        Ok(ids.iter().map(ParamId::val).collect())
    }
}

/// `m` as burn's AdamW record of a rank-`D` parameter of `shape`: what [`read_momentum`] reads.
fn record_entry<const D: usize>(m: &Moments, shape: &[usize]) -> AdaptorRecord<AdamW, Train> {
    let device = Default::default();
    let tensor = |v: &Vec<f32>| {
        Tensor::<Host, D>::from_data(TensorData::new(v.clone(), shape.to_vec()), &device)
    };
    super::flat_adamw::record_entry::<Train, D>(m.time, tensor(&m.first), tensor(&m.second))
}

fn read_momentum<const D: usize>(state: AdaptiveMomentumState<Host, D>) -> Moments {
    Moments {
        first: state.moment_1.into_data().iter::<f32>().collect(),
        second: state.moment_2.into_data().iter::<f32>().collect(),
        time: state.time,
    }
}
