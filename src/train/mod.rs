//! The training loop: AdamW, warmup + cosine learning rate, k-means codebook init, dead-code
//! replacement and resumable checkpoints.
//!
//! Loss per batch (means over rows):
//! `‖x − x̂‖² + codebook_weight · Σ_l ‖sg(r_l) − c_l‖² + commitment_weight · Σ_l ‖r_l − sg(c_l)‖²`
//! where `r_l` is level `l`'s residual and `c_l` its chosen code. Gradients cross the quantizer
//! through the rotation trick ([`crate::quantizer::rotate_to`]).
//!
//! Dead codes: at the end of every epoch, each code no item chose during that epoch is moved onto
//! a residual of that level, so all codes stay in use: a random one of the epoch's last batch
//! (the reference), or with [`DeadCodeSource::HighError`] one of a data sample drawn with
//! probability proportional to its quantization error.
//!
//! Codebook init: k-means on the first batch (or, with `kmeans_on_all_rows`, on all rows), level
//! by level on the residuals. With `ae_warmup_epochs > 0` the first epochs train encoder and
//! decoder as a plain autoencoder and k-means runs after them, on a latent that already encodes
//! the data.
//!
//! Balanced assignment: with `sinkhorn_epsilon` set, a level's VQ losses pull towards the code of
//! a Sinkhorn plan that gives every code the same share of the batch ([`crate::sinkhorn`]),
//! while the forward pass and the IDs stay nearest-code.
//!
//! Prefix-collision penalty: with `collision_weight` set, the loss adds a term that pushes rows
//! sharing an ID prefix towards different codes of the next level ([`crate::collision`]).

mod burn_engine;
mod checkpoint;
mod config;
mod cpu_engine;
mod cpu_mlp;
mod cpu_step;
mod dead_codes;
mod engine;
mod error;
mod flat_adamw;
mod presets;
mod schedule;

pub use burn_engine::BurnEngine;
pub(crate) use checkpoint::param_order;
pub use checkpoint::{checkpoint_dir, has_checkpoint, recover_checkpoint, saved_recipe};
use config::check_recipe;
pub use config::{DeadCodeSource, TrainConfig, KMEANS_MAX_ROWS};
pub use cpu_engine::{CpuDevice, CpuEngine};
pub use engine::{Engine, StepRecipe, StepTotals};
pub use error::TrainError;
pub use schedule::lr_schedule;

use crate::anisotropy::Anisotropy;
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::host::matmul::nearest_rows;
use crate::input_transform::InputTransform;
use crate::kmeans::kmeans;
use crate::model::RqVae;
use crate::weights::ModelWeights;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// What one epoch did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub lr: f64,
    pub recon_loss: f64,
    pub codebook_loss: f64,
    pub commitment_loss: f64,
    /// Code-usage perplexity of every level over the epoch.
    pub perplexity: Vec<f64>,
    /// Codes unused during the epoch, per level (replaced afterwards when enabled).
    pub dead_codes: Vec<usize>,
    pub seconds: f64,
}

/// A model, its optimizer and the data in an [`Engine`], stepping through epochs of the recipe.
///
/// The engine holds the network and the data as the encoder takes them: when the model has an
/// input transform ([`crate::input_transform`]), the trainer transforms the data once before
/// handing it over and adds the transform to every model it gives out.
pub struct Trainer<E: Engine> {
    pub engine: E,
    pub config: RqVaeConfig,
    /// The model's input transform, fixed for the run.
    pub input: Option<InputTransform>,
    /// The training data's anisotropy, where a new model's transform was chosen by it.
    pub anisotropy: Option<Anisotropy>,
    pub train: TrainConfig,
    rows: usize,
    /// Completed epochs.
    pub epochs_done: usize,
    step: usize,
}

impl<E: Engine> Trainer<E> {
    /// A fresh model; codebooks are put on the data by k-means before the first step.
    pub fn new(
        config: RqVaeConfig,
        train: TrainConfig,
        data: &Embeddings,
        device: &E::Device,
    ) -> Result<Self, TrainError> {
        check_recipe(&train, data, &config)?;
        let anisotropy =
            crate::anisotropy::measure(data.as_slice(), data.dim(), crate::anisotropy::PAIRS, 0);
        let input = if train.input_transform.centers(&anisotropy) {
            Some(InputTransform::fit(data.as_slice(), data.dim())?)
        } else {
            None
        };
        let mut trainer = Self {
            engine: E::init(&config, &train, &transformed(&input, data), device),
            config,
            input,
            anisotropy: Some(anisotropy),
            rows: data.rows(),
            train,
            epochs_done: 0,
            step: 0,
        };
        if trainer.train.ae_warmup_epochs == 0 {
            trainer.init_codebooks();
        }
        Ok(trainer)
    }

    /// A run that starts from a trained model (`weights`, decoder included) instead of a fresh
    /// one: its codebooks are kept (no k-means), the optimizer starts afresh, and the recipe's
    /// schedule runs from its first step. The IDs it ends with are a new model's.
    pub fn fine_tune(
        weights: &ModelWeights,
        train: TrainConfig,
        data: &Embeddings,
        device: &E::Device,
    ) -> Result<Self, TrainError> {
        check_recipe(&train, data, &weights.config)?;
        if weights.decoder.is_none() {
            return Err(TrainError::FineTune(
                "the model has no decoder, and fine-tuning trains it with the rest; start from \
                 a run's model.safetensors or an export made without --no-decoder"
                    .into(),
            ));
        }
        if train.ae_warmup_epochs > 0 {
            return Err(TrainError::FineTune(format!(
                "ae_warmup_epochs is {}, but the warm-up ends by re-initialising the codebooks \
                 with k-means, which would discard the model's codes; set it to 0",
                train.ae_warmup_epochs
            )));
        }
        check_kept_transform(&train, weights.input.is_some())?;
        Ok(Self {
            engine: E::from_weights(
                &network(weights),
                &train,
                &transformed(&weights.input, data),
                device,
            ),
            config: weights.config.clone(),
            input: weights.input.clone(),
            anisotropy: None,
            rows: data.rows(),
            train,
            epochs_done: 0,
            step: 0,
        })
    }

    pub fn total_steps(&self) -> usize {
        self.train.epochs * self.rows.div_ceil(self.train.batch_size)
    }

    /// Linear warmup to `lr`, then cosine decay to `lr_min` at the last step.
    pub fn lr_at(&self, step: usize) -> f64 {
        lr_schedule(&self.train, step, self.total_steps())
    }

    /// The row order of `epoch`: a permutation seeded by (seed, epoch), so a resumed run sees the
    /// same batches as an uninterrupted one.
    fn permutation(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rows).collect();
        let mut rng = StdRng::seed_from_u64(self.train.seed.wrapping_add(epoch as u64 * 7919));
        order.shuffle(&mut rng);
        order
    }

    /// k-means on the first batch of the coming epoch, level by level on the encoder's residuals.
    fn init_codebooks(&mut self) {
        let take = if self.train.kmeans_on_all_rows {
            self.rows.min(KMEANS_MAX_ROWS)
        } else {
            self.train.batch_size
        };
        let first: Vec<usize> = self.permutation(self.epochs_done)[..take].to_vec();
        let mut residual = self.engine.latents(&first);
        let dim = self.config.latent_dim;
        for level in 0..self.config.levels {
            let centroids = kmeans(
                &residual,
                dim,
                self.config.codebook_size,
                self.train.kmeans_iterations,
                self.train.seed.wrapping_add(level as u64),
            );
            subtract_nearest(&mut residual, &centroids, dim);
            self.engine.set_codebook(level, centroids);
        }
    }

    /// One pass over the data. Returns the epoch's report.
    pub fn run_epoch(&mut self) -> EpochReport {
        if self.epochs_done < self.train.ae_warmup_epochs {
            return self.run_autoencoder_epoch();
        }
        let started = std::time::Instant::now();
        let epoch = self.epochs_done;
        let order = self.permutation(epoch);
        let (levels, k) = (self.config.levels, self.config.codebook_size);
        let mut last_residuals = Vec::new();
        let mut lr = 0.0;
        let mut recipe = StepRecipe::from_train(&self.train);
        if epoch < self.train.collision_from_epoch {
            recipe.collision.weights.clear();
        }
        let batches = order.len().div_ceil(self.train.batch_size);
        for (b, rows) in order.chunks(self.train.batch_size).enumerate() {
            lr = self.lr_at(self.step);
            let last = b + 1 == batches;
            let residuals = self.engine.step(rows, lr, &recipe, last);
            self.step += 1;
            if last {
                last_residuals = residuals;
            }
        }
        let totals = self.engine.take_totals();
        let (counts, sums) = (totals.counts, totals.losses);

        let mut dead_codes = Vec::with_capacity(levels);
        let mut perplexity = Vec::with_capacity(levels);
        let mut dead_per_level = Vec::with_capacity(levels);
        for level in 0..levels {
            let level_counts = &counts[level * k..(level + 1) * k];
            perplexity.push(crate::metrics::perplexity(level_counts));
            let dead: Vec<usize> = (0..k).filter(|&c| level_counts[c] == 0).collect();
            dead_codes.push(dead.len());
            dead_per_level.push(dead);
        }
        if self.train.reset_dead_codes && dead_per_level.iter().any(|d| !d.is_empty()) {
            match self.train.dead_code_source {
                DeadCodeSource::LastBatch => {
                    for (level, dead) in dead_per_level.iter().enumerate() {
                        if !dead.is_empty() {
                            self.replace_dead(level, dead, &last_residuals[level], epoch);
                        }
                    }
                }
                DeadCodeSource::HighError => self.reseed_from_errors(&dead_per_level, epoch),
            }
        }
        self.epochs_done += 1;
        EpochReport {
            epoch: self.epochs_done,
            lr,
            recon_loss: sums[0] / batches as f64,
            codebook_loss: sums[1] / batches as f64,
            commitment_loss: sums[2] / batches as f64,
            perplexity,
            dead_codes,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// An epoch of the autoencoder warmup: reconstruction loss only, quantizer bypassed. The last
    /// warmup epoch ends with the k-means initialisation of the codebooks.
    fn run_autoencoder_epoch(&mut self) -> EpochReport {
        let started = std::time::Instant::now();
        let order = self.permutation(self.epochs_done);
        let (mut batches, mut lr) = (0usize, 0.0);
        for rows in order.chunks(self.train.batch_size) {
            lr = self.lr_at(self.step);
            self.engine.autoencoder_step(rows, lr);
            self.step += 1;
            batches += 1;
        }
        let sum = self.engine.take_totals().losses[0];
        self.epochs_done += 1;
        if self.epochs_done == self.train.ae_warmup_epochs {
            self.init_codebooks();
        }
        EpochReport {
            epoch: self.epochs_done,
            lr,
            recon_loss: sum / batches as f64,
            codebook_loss: 0.0,
            commitment_loss: 0.0,
            perplexity: Vec::new(),
            dead_codes: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    pub fn weights(&self) -> ModelWeights {
        ModelWeights {
            input: self.input.clone(),
            ..self.engine.weights()
        }
    }
}

impl<B: AutodiffBackend> Trainer<BurnEngine<B>> {
    /// The current model without autodiff, for evaluation and export.
    pub fn inference_model(&self) -> RqVae<B::InnerBackend> {
        RqVae {
            input: self.input.clone(),
            ..self.engine.inference_model()
        }
    }
}

/// `data` as the encoder takes it: borrowed as it is, or transformed into a copy.
fn transformed<'a>(input: &Option<InputTransform>, data: &'a Embeddings) -> Cow<'a, Embeddings> {
    match input {
        Some(t) => Cow::Owned(
            Embeddings::new(t.apply(data.as_slice()), data.dim())
                .expect("a transform with a finite, positive scale keeps finite rows finite"),
        ),
        None => Cow::Borrowed(data),
    }
}

/// The network an engine trains: `weights` without the input transform, which the trainer
/// applies to the data instead.
fn network(weights: &ModelWeights) -> ModelWeights {
    ModelWeights {
        input: None,
        ..weights.clone()
    }
}

/// A run that starts from a model keeps its transform: a recipe that names another is refused
/// rather than silently ignored.
fn check_kept_transform(train: &TrainConfig, has_input: bool) -> Result<(), TrainError> {
    use crate::input_transform::InputTransformChoice as Choice;
    let (asked, model) = match (train.input_transform, has_input) {
        (Choice::Center, false) => ("center", "has none"),
        (Choice::None, true) => ("none", "centres its inputs"),
        _ => return Ok(()),
    };
    Err(TrainError::FineTune(format!(
        "the recipe asks for input_transform \"{asked}\" but the model {model}, and a run that \
         starts from a model keeps its input transform; use \"auto\", or train a new model"
    )))
}

/// Subtracts from every row of `points` its nearest row of `codebook`: the next level's
/// residual.
pub(super) fn subtract_nearest(points: &mut [f32], codebook: &[f32], dim: usize) {
    let (ids, _) = nearest_rows(points, codebook, dim);
    for (row, &c) in points.chunks_exact_mut(dim).zip(&ids) {
        let code = &codebook[c as usize * dim..(c as usize + 1) * dim];
        row.iter_mut().zip(code).for_each(|(r, c)| *r -= c);
    }
}
