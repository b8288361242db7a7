//! The burn engine: the model as a burn module, gradients from burn's autodiff, burn's AdamW.
//! It runs on any autodiff backend; the trainer CLI uses it for CUDA.

use super::engine::{Engine, StepRecipe, StepStats};
use super::{param_order, TrainConfig};
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::inference::to_tensor;
use crate::model::{Mlp, RqVae};
use crate::weights::{LayerWeights, ModelWeights};
use burn::module::{AutodiffModule, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
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

type Optim<B> = OptimizerAdaptor<AdamW, RqVae<B>, B>;

pub struct BurnEngine<B: AutodiffBackend> {
    pub model: RqVae<B>,
    optim: Optim<B>,
    config: RqVaeConfig,
    data: Tensor<B, 2>,
    device: B::Device,
}

fn optimizer<B: AutodiffBackend>(train: &TrainConfig) -> Optim<B> {
    AdamWConfig::new()
        .with_weight_decay(train.weight_decay)
        .init()
}

impl<B: AutodiffBackend> BurnEngine<B> {
    fn batch(&self, rows: &[usize]) -> Tensor<B, 2> {
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [rows.len()],
            ),
            &self.device,
        );
        self.data.clone().select(0, idx)
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
        let x = self.batch(rows);
        let out = self.model.forward(x.clone(), &recipe.balance);
        let recon = (out.reconstruction - x).powi_scalar(2).sum_dim(1).mean();
        let q = out.quantizer;
        let loss = recon.clone()
            + q.codebook_loss.clone().mul_scalar(recipe.codebook_weight)
            + q.commitment_loss
                .clone()
                .mul_scalar(recipe.commitment_weight);
        (loss, recon, q)
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
        Self {
            model: config.init::<B>(device),
            optim: optimizer::<B>(train),
            config: config.clone(),
            data: to_tensor::<B>(data.as_slice(), data.rows(), data.dim(), device),
            device: device.clone(),
        }
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
        let saved: <Optim<B> as Optimizer<RqVae<B>, B>>::Record =
            BinFileRecorder::<FullPrecisionSettings>::new()
                .load(optimizer_path.to_path_buf(), device)
                .map_err(|e| format!("optimizer state: {e}"))?;
        let record = saved
            .into_iter()
            .map(|(id, state)| {
                renamed
                    .get(&id.val())
                    .map(|&new| (new, state))
                    .ok_or_else(|| "optimizer state for an unknown parameter".to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            model,
            optim: optimizer::<B>(train).load_record(record),
            config: weights.config.clone(),
            data: to_tensor::<B>(data.as_slice(), data.rows(), data.dim(), device),
            device: device.clone(),
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
    ) -> StepStats {
        let (loss, recon, q) = self.loss(rows, recipe);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        let mut losses = [0f64; 3];
        for (s, t) in losses
            .iter_mut()
            .zip([recon, q.codebook_loss, q.commitment_loss])
        {
            *s = t.into_scalar().elem::<f64>();
        }
        StepStats {
            ids: q.ids.into_data().iter::<i64>().map(|v| v as u32).collect(),
            losses,
            residuals: if keep_residuals {
                q.residuals
                    .into_iter()
                    .map(|r| r.into_data().iter::<f32>().collect())
                    .collect()
            } else {
                Vec::new()
            },
        }
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

    fn autoencoder_step(&mut self, rows: &[usize], lr: f64) -> f64 {
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
        let grads = GradientsParams::from_grads(recon.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        recon.into_scalar().elem::<f64>()
    }

    fn weights(&self) -> ModelWeights {
        ModelWeights::from_model(&self.model, &self.config)
    }

    fn save_optimizer(&self, path: &Path) -> Result<Vec<u64>, String> {
        BinFileRecorder::<FullPrecisionSettings>::new()
            .record(self.optim.to_record(), path.to_path_buf())
            .map_err(|e| e.to_string())?;
        Ok(param_order(&self.model).iter().map(ParamId::val).collect())
    }
}
