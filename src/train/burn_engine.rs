//! The burn engine: the model as a burn module, gradients from burn's autodiff, burn's AdamW.
//! It runs on any autodiff backend; the trainer CLI uses it for CUDA.

use super::engine::{Engine, StepRecipe, StepTotals};
use super::flat_adamw::{FlatAdamW, Group, Record};
use super::{param_order, TrainConfig};
use crate::collision::{first_occurrence_weights, BatchCollision};
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::inference::to_tensor;
use crate::model::{Mlp, RqVae};
use crate::weights::{LayerWeights, ModelWeights};
use burn::module::{AutodiffModule, Param, ParamId};
use burn::optim::GradientsParams;
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use std::path::Path;

/// A parameter's gradient as a host vector (empty when it has none).
fn grad_of<B: AutodiffBackend, const D: usize>(
    grads: &GradientsParams,
    param: &Param<Tensor<B, D>>,
) -> Vec<f32> {
    grads
        .get::<B::InnerBackend, D>(param.id)
        .map(|t| t.into_data().iter::<f32>().collect())
        .unwrap_or_default()
}

pub struct BurnEngine<B: AutodiffBackend> {
    pub model: RqVae<B>,
    optim: FlatAdamW<B>,
    config: RqVaeConfig,
    data: Tensor<B, 2>,
    device: B::Device,
    /// Code counts `[levels, codebook_size]` and loss sums `[3]` of the steps since the last
    /// `take_totals`, kept on the device so that a step waits for nothing.
    counts: Option<Tensor<B, 2, Int>>,
    loss_sums: Option<Tensor<B, 1>>,
    /// The collision penalty's `w_i` of every data row, when the recipe uses the penalty.
    row_weights: Option<Tensor<B, 1>>,
}

fn row_weights<B: AutodiffBackend>(
    train: &TrainConfig,
    data: &Embeddings,
    device: &B::Device,
) -> Option<Tensor<B, 1>> {
    train.collision_penalty().is_on().then(|| {
        let w = first_occurrence_weights(data.as_slice(), data.dim());
        Tensor::from_data(TensorData::new(w, [data.rows()]), device)
    })
}

impl<B: AutodiffBackend> BurnEngine<B> {
    fn batch(&self, rows: &[usize]) -> Tensor<B, 2> {
        self.data.clone().select(0, self.row_index(rows))
    }

    fn row_index(&self, rows: &[usize]) -> Tensor<B, 1, Int> {
        Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [rows.len()],
            ),
            &self.device,
        )
    }

    /// The step's loss on `rows`, with the reconstruction term and the quantizer's output.
    #[allow(clippy::type_complexity)]
    fn loss(
        &self,
        rows: &[usize],
        recipe: &StepRecipe,
    ) -> (
        Tensor<B, 1>,
        Tensor<B, 1>,
        crate::quantizer::QuantizerOutput<B>,
    ) {
        let idx = self.row_index(rows);
        let x = self.data.clone().select(0, idx.clone());
        let collision = match (&self.row_weights, recipe.collision.is_on()) {
            (Some(w), true) => Some(BatchCollision {
                penalty: recipe.collision.clone(),
                row_weights: w.clone().select(0, idx),
            }),
            _ => None,
        };
        let out = self
            .model
            .forward(x.clone(), &recipe.balance, collision.as_ref());
        let recon = (out.reconstruction - x).powi_scalar(2).sum_dim(1).mean();
        let q = out.quantizer;
        let loss = recon.clone()
            + q.codebook_loss.clone().mul_scalar(recipe.codebook_weight)
            + q.commitment_loss
                .clone()
                .mul_scalar(recipe.commitment_weight)
            + q.collision_loss.clone()
            + q.usage_loss.clone();
        (loss, recon, q)
    }

    /// Adds a step's three losses (`[3]`) to the sums, without a read-back.
    fn add_losses(&mut self, losses: Tensor<B, 1>) {
        let losses = losses.detach();
        self.loss_sums = Some(match self.loss_sums.take() {
            Some(s) => s + losses,
            None => losses,
        });
    }

    /// An engine around `model` with a fresh optimizer.
    fn with_model(
        model: RqVae<B>,
        config: &RqVaeConfig,
        train: &TrainConfig,
        data: &Embeddings,
        device: &B::Device,
    ) -> Self {
        Self {
            model,
            optim: FlatAdamW::new(train.weight_decay),
            config: config.clone(),
            data: to_tensor::<B>(data.as_slice(), data.rows(), data.dim(), device),
            device: device.clone(),
            counts: None,
            loss_sums: None,
            row_weights: row_weights::<B>(train, data, device),
        }
    }

    /// The current model without autodiff.
    pub fn inference_model(&self) -> RqVae<B::InnerBackend> {
        self.model.valid()
    }
}

impl<B: AutodiffBackend> Engine for BurnEngine<B> {
    type Device = B::Device;

    fn init(
        config: &RqVaeConfig,
        train: &TrainConfig,
        data: &Embeddings,
        device: &B::Device,
    ) -> Self {
        B::seed(device, train.seed);
        Self::with_model(config.init::<B>(device), config, train, data, device)
    }

    fn from_weights(
        weights: &ModelWeights,
        train: &TrainConfig,
        data: &Embeddings,
        device: &B::Device,
    ) -> Self {
        B::seed(device, train.seed);
        let model = weights.to_model::<B>(device);
        Self::with_model(model, &weights.config, train, data, device)
    }

    fn restore(
        weights: &ModelWeights,
        optimizer_path: &Path,
        param_ids: &[u64],
        train: &TrainConfig,
        data: &Embeddings,
        device: &B::Device,
    ) -> Result<Self, String> {
        let model = weights.to_model::<B>(device);
        let new_ids = param_order(&model);
        if new_ids.len() != param_ids.len() {
            return Err(format!(
                "state.json lists {} parameters, the model has {}",
                param_ids.len(),
                new_ids.len()
            ));
        }
        let renamed: std::collections::HashMap<u64, ParamId> =
            param_ids.iter().copied().zip(new_ids).collect();
        let saved: Record<B> = BinFileRecorder::<FullPrecisionSettings>::new()
            .load(optimizer_path.to_path_buf(), device)
            .map_err(|e| format!("optimizer state: {e}"))?;
        let record: Record<B> = saved
            .into_iter()
            .map(|(id, state)| {
                renamed
                    .get(&id.val())
                    .map(|&new| (new, state))
                    .ok_or_else(|| "optimizer state for an unknown parameter".to_string())
            })
            .collect::<Result<_, _>>()?;
        let mut model = model;
        let optim = FlatAdamW::from_record(train.weight_decay, &mut model, record, device)?;
        Ok(Self {
            model,
            optim,
            config: weights.config.clone(),
            data: to_tensor::<B>(data.as_slice(), data.rows(), data.dim(), device),
            device: device.clone(),
            counts: None,
            loss_sums: None,
            row_weights: row_weights::<B>(train, data, device),
        })
    }

    fn latents(&self, rows: &[usize]) -> Vec<f32> {
        let x = self.batch(rows).inner();
        self.model
            .valid()
            .encoder
            .forward(x)
            .into_data()
            .iter::<f32>()
            .collect()
    }

    fn codebook(&self, level: usize) -> Vec<f32> {
        self.model.quantizer.codebooks[level]
            .val()
            .into_data()
            .iter::<f32>()
            .collect()
    }

    fn set_codebook(&mut self, level: usize, values: Vec<f32>) {
        self.model.quantizer.set_codebook(level, values);
    }

    fn step(
        &mut self,
        rows: &[usize],
        lr: f64,
        recipe: &StepRecipe,
        keep_residuals: bool,
    ) -> Vec<Vec<f32>> {
        let (loss, recon, q) = self.loss(rows, recipe);
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.optim
            .step(&mut self.model, &mut grads, lr, Group::Mlps);
        self.optim
            .step(&mut self.model, &mut grads, lr, Group::Codebooks);
        self.add_losses(Tensor::cat(
            vec![recon, q.codebook_loss, q.commitment_loss],
            0,
        ));
        // Rows per code as a comparison against every code, summed over the rows: no scatter
        // with repeated indices, so the counts are exact on every backend.
        let [n, levels] = q.ids.dims();
        let k = self.config.codebook_size;
        let codes = Tensor::<B, 1, Int>::arange(0..k as i64, &self.device).reshape([1, 1, k]);
        let hits = q
            .ids
            .reshape([n, levels, 1])
            .expand([n, levels, k])
            .equal(codes.expand([n, levels, k]))
            .int()
            .sum_dim(0)
            .reshape([levels, k]);
        self.counts = Some(match self.counts.take() {
            Some(c) => c + hits,
            None => hits,
        });
        if keep_residuals {
            q.residuals
                .into_iter()
                .map(|r| r.into_data().iter::<f32>().collect())
                .collect()
        } else {
            Vec::new()
        }
    }

    fn take_totals(&mut self) -> StepTotals {
        let counts = self
            .counts
            .take()
            .map(|c| c.into_data().iter::<i64>().map(|v| v as usize).collect())
            .unwrap_or_default();
        let mut losses = [0f64; 3];
        if let Some(sums) = self.loss_sums.take() {
            for (l, v) in losses.iter_mut().zip(sums.into_data().iter::<f32>()) {
                *l = v as f64;
            }
        }
        StepTotals { counts, losses }
    }

    fn gradients(&self, rows: &[usize], recipe: &StepRecipe) -> ModelWeights {
        let (loss, _, _) = self.loss(rows, recipe);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let mlp = |m: &Mlp<B>| -> Vec<LayerWeights> {
            m.layers
                .iter()
                .map(|l| LayerWeights {
                    weight: grad_of(&grads, &l.weight),
                    bias: l
                        .bias
                        .as_ref()
                        .map(|b| grad_of(&grads, b))
                        .unwrap_or_default(),
                })
                .collect()
        };
        let mut out = self.weights();
        out.encoder = mlp(&self.model.encoder);
        out.codebooks = self
            .model
            .quantizer
            .codebooks
            .iter()
            .map(|c| grad_of(&grads, c))
            .collect();
        out.decoder = self.model.decoder.as_ref().map(mlp);
        out
    }

    fn autoencoder_step(&mut self, rows: &[usize], lr: f64) {
        let x = self.batch(rows);
        let decoder = self
            .model
            .decoder
            .as_ref()
            .expect("training builds a decoder");
        let recon = (decoder.forward(self.model.encoder.forward(x.clone())) - x)
            .powi_scalar(2)
            .sum_dim(1)
            .mean();
        let mut grads = GradientsParams::from_grads(recon.backward(), &self.model);
        // The codebooks take no part in this loss: their state stays as it is.
        self.optim
            .step(&mut self.model, &mut grads, lr, Group::Mlps);
        let zeros = Tensor::<B, 1>::zeros([2], &self.device);
        self.add_losses(Tensor::cat(vec![recon, zeros], 0));
    }

    fn weights(&self) -> ModelWeights {
        ModelWeights::from_model(&self.model, &self.config)
    }

    fn save_optimizer(&self, path: &Path) -> Result<Vec<u64>, String> {
        BinFileRecorder::<FullPrecisionSettings>::new()
            .record(
                self.optim.to_record(&mut self.model.clone()),
                path.to_path_buf(),
            )
            .map_err(|e| e.to_string())?;
        Ok(param_order(&self.model).iter().map(ParamId::val).collect())
    }
}
