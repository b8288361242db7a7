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
mod cpu_engine;
mod cpu_step;
mod engine;

pub use burn_engine::BurnEngine;
pub use cpu_engine::{CpuDevice, CpuEngine};
pub use engine::{Engine, StepRecipe, StepTotals};

use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::kmeans::kmeans;
use crate::model::RqVae;
use crate::weights::{ModelWeights, Precision, WeightsError};
use burn::module::ParamId;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::backend::Backend;
use crate::host::matmul::nearest_rows;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The training recipe. Defaults follow the reference model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub lr_min: f64,
    /// Share of all steps spent in linear warmup from 0 to `lr`.
    pub warmup_fraction: f64,
    pub weight_decay: f32,
    pub codebook_weight: f32,
    pub commitment_weight: f32,
    pub kmeans_iterations: usize,
    /// Epochs (counted within `epochs`) that train encoder and decoder as a plain autoencoder
    /// before the codebooks are initialised by k-means, so that k-means clusters a latent space
    /// that already encodes the data instead of a random projection. 0 reproduces the reference
    /// recipe (k-means on the first batch of the untrained encoder).
    pub ae_warmup_epochs: usize,
    /// Replace codes unused during an epoch (see the module docs).
    pub reset_dead_codes: bool,
    /// Where replaced dead codes are put (see [`DeadCodeSource`]).
    pub dead_code_source: DeadCodeSource,
    /// Run the initial k-means on every row (at most [`KMEANS_MAX_ROWS`], sampled) instead of
    /// the first batch.
    pub kmeans_on_all_rows: bool,
    /// Per level, the Sinkhorn entropy weight of balanced code assignment during training (see
    /// [`crate::sinkhorn`]); empty or 0 means nearest-code assignment, as in the reference.
    pub sinkhorn_epsilon: Vec<f32>,
    pub sinkhorn_iterations: usize,
    /// Per level, the weight of the prefix-collision penalty ([`crate::collision`]): rows that
    /// share the codes of the levels before are pushed towards different codes of this level.
    /// Empty or 0 means off, as in the reference.
    pub collision_weight: Vec<f32>,
    /// The penalty's softmax temperature, relative to the batch's mean nearest-code distance.
    pub collision_temperature: f32,
    /// Epochs (counted from the start of the run, warm-up included) before the penalty applies:
    /// from the first epoch it makes the encoder scatter items before their codes mean anything.
    pub collision_from_epoch: usize,
    /// Per level, the weight of the code-usage term ([`crate::code_usage`]): the codes move so
    /// that the batch's rows spread evenly over them. Empty or 0 means off, as in the reference.
    pub usage_weight: Vec<f32>,
    /// The term's softmax temperature, relative to the batch's mean nearest-code distance.
    pub usage_temperature: f32,
    pub seed: u64,
}

/// Where a dead code is moved at the end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadCodeSource {
    /// Random residuals of the epoch's last batch (the reference). That batch can be tiny: with
    /// 2,001 rows and batch 1,000 it holds one row, and every dead code lands on it.
    LastBatch,
    /// Residuals of a sample of the data, drawn with probability proportional to their squared
    /// quantization error (k-means++ style), so new codes go where the level serves items worst.
    HighError,
}

/// Rows k-means and high-error re-seeding look at, at most.
pub const KMEANS_MAX_ROWS: usize = 65_536;

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1000,
            batch_size: 4096,
            lr: 3e-4,
            lr_min: 1e-5,
            warmup_fraction: 0.02,
            weight_decay: 1e-4,
            codebook_weight: 1.0,
            commitment_weight: 0.25,
            kmeans_iterations: 25,
            ae_warmup_epochs: 0,
            reset_dead_codes: true,
            dead_code_source: DeadCodeSource::LastBatch,
            kmeans_on_all_rows: false,
            sinkhorn_epsilon: Vec::new(),
            sinkhorn_iterations: 20,
            collision_weight: Vec::new(),
            collision_temperature: 0.1,
            collision_from_epoch: 0,
            usage_weight: Vec::new(),
            usage_temperature: 0.05,
            seed: 42,
        }
    }
}

impl TrainConfig {
    /// The reference model card's recipe (the same as `Default`): batch 4096, LR 3e-4, 1,000
    /// epochs, nearest-code VQ losses, dead codes from the last batch.
    pub fn reference() -> Self {
        Self::default()
    }

    /// The prefix-collision penalty this recipe asks for (off when every weight is 0).
    pub fn collision_penalty(&self) -> crate::collision::CollisionPenalty {
        crate::collision::CollisionPenalty {
            weights: self.collision_weight.clone(),
            temperature: self.collision_temperature,
        }
    }

    /// The code-usage term this recipe asks for (off when every weight is 0).
    pub fn code_usage(&self) -> crate::code_usage::CodeUsage {
        crate::code_usage::CodeUsage {
            weights: self.usage_weight.clone(),
            temperature: self.usage_temperature,
        }
    }

    /// The first stage of the shipped default model, for semantic IDs (2,000 `epochs` for the
    /// default model): batch 512 and LR 1e-3 (33 steps an epoch instead of 4), the code-usage
    /// term on level A (weight 0.3) from the first epoch, and the prefix-collision penalty on
    /// levels B and C (weights 1 and 3) for the last fifth of the `epochs`. Without the term,
    /// nearest-code training gives semantically dense regions more items per first code the
    /// longer it trains (level-A perplexity 232 at 400 epochs, 220 at 2,000). On from the start
    /// and this weak, the term keeps level A even (253 at 2,000 epochs) with cosine and NN
    /// overlap unchanged; prefix-1 coincidence gives up 0.02 (0.676 → 0.655). A strong term
    /// (weight 1 and more), or one switched on after training, split semantic groups.
    pub fn semantic_ids(epochs: usize) -> Self {
        Self {
            epochs,
            batch_size: 512,
            lr: 1e-3,
            collision_weight: vec![0.0, 1.0, 3.0],
            collision_from_epoch: epochs * 4 / 5,
            usage_weight: vec![0.3, 0.0, 0.0],
            ..Self::default()
        }
    }

    /// The second stage of the shipped default model, run on a trained model
    /// (`rqvae-train train --init-from`): `epochs` (400 for the default model) at batch 4096 and
    /// LR 5e-5 without warm-up, cosine to 1e-5, with the prefix-collision penalty on level C
    /// (weight 3) and the code-usage term on levels A and B (weights 0.3 and 0.1) from the
    /// first epoch. A batch of 4096 holds 8 times as many rows sharing a prefix as one of 512,
    /// so the penalty sees the near-duplicates it must separate; the low learning rate keeps
    /// what the model learned (at 1e-4 the neighbourhoods lost more). The weak usage term keeps
    /// the first stage's balance, which the penalty alone erodes (level A 253 → 246 in 300
    /// epochs), and in those 300 epochs kept more NN overlap (0.354 against 0.350); the 400
    /// epochs took unique tuples past 96.5 %. Level B's penalty is left off: at this batch size
    /// it (about 16 rows per level-A group) made the latent grow until the codes collapsed.
    pub fn collision_fine_tune(epochs: usize) -> Self {
        Self {
            epochs,
            batch_size: 4096,
            lr: 5e-5,
            warmup_fraction: 0.0,
            collision_weight: vec![0.0, 0.0, 3.0],
            collision_from_epoch: 0,
            usage_weight: vec![0.3, 0.1, 0.0],
            ..Self::default()
        }
    }

    /// [`Self::collision_fine_tune`] with a strong code-usage term on levels A and B (weights
    /// 3 and 1, temperature 0.05), for `epochs` (400 measured): for a model whose first stage
    /// ran without the term (the reference recipe, or `semantic-ids` before it had the term),
    /// to even out its codes without training it again. From such a first stage it lifts the
    /// perplexity of every level past 245 and keeps unique tuples, but moving established codes
    /// costs neighbourhoods (NN overlap@5 0.356 → 0.329 on the README's data), where the weak
    /// term from the first epoch costs none.
    pub fn balanced_fine_tune(epochs: usize) -> Self {
        Self {
            usage_weight: vec![3.0, 1.0, 0.0],
            ..Self::collision_fine_tune(epochs)
        }
    }
}

/// Why training cannot start or continue.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("batch size {batch} is larger than the {rows} rows of the training data")]
    BatchTooLarge { batch: usize, rows: usize },
    #[error("batch size must be at least 1")]
    ZeroBatch,
    #[error("epochs must be at least 1: a run of 0 epochs would only write an untrained model")]
    ZeroEpochs,
    #[error(
        "ae_warmup_epochs {warmup} leaves no epoch for the quantizer in a run of {epochs} epochs; \
         the codebooks are initialised after the warm-up, so use fewer warm-up epochs"
    )]
    WarmupTooLong { warmup: usize, epochs: usize },
    #[error("training data has dimension {found} but the model config expects {expected}")]
    Dim { expected: usize, found: usize },
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    #[error(
        "collision penalty: {field} must be {expected}, found {found} (see `collision_weight` and \
         `collision_temperature` in the training recipe)"
    )]
    Collision {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "code-usage term: {field} must be {expected}, found {found} (see `usage_weight` and \
         `usage_temperature` in the training recipe)"
    )]
    CodeUsage {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("cannot fine-tune: {0}")]
    FineTune(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

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

/// Progress saved beside a checkpoint's weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    epochs_done: usize,
    step: usize,
    /// Parameter ids in [`param_order`] order: AdamW's saved state is keyed by them, and a model
    /// rebuilt from the weights file gets fresh ids, so resume maps old ids to new ones.
    param_ids: Vec<u64>,
    model: RqVaeConfig,
    train: TrainConfig,
}

/// A model, its optimizer and the data in an [`Engine`], stepping through epochs of the recipe.
pub struct Trainer<E: Engine> {
    pub engine: E,
    pub config: RqVaeConfig,
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
        let mut trainer = Self {
            engine: E::init(&config, &train, data, device),
            config,
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
        Ok(Self {
            engine: E::from_weights(weights, &train, data, device),
            config: weights.config.clone(),
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

    /// Moves `dead` codes of `level` onto residuals (`[n, latent_dim]`) drawn without
    /// replacement.
    fn replace_dead(&mut self, level: usize, dead: &[usize], points: &[f32], epoch: usize) {
        let dim = self.config.latent_dim;
        let n = points.len() / dim;
        let mut rng = StdRng::seed_from_u64(
            self.train.seed ^ ((epoch as u64) << 20) ^ ((level as u64) << 8) ^ 0xdead,
        );
        let mut picks: Vec<usize> = (0..n).collect();
        picks.shuffle(&mut rng);
        let mut codebook = self.engine.codebook(level);
        for (j, &code) in dead.iter().enumerate() {
            let src = picks[j % n];
            codebook[code * dim..(code + 1) * dim]
                .copy_from_slice(&points[src * dim..(src + 1) * dim]);
        }
        self.engine.set_codebook(level, codebook);
    }

    /// Moves each level's dead codes onto residuals of a data sample drawn with probability
    /// proportional to their squared error under that level's current codebook. Levels go in
    /// order, so a level's residuals already reflect the codes just placed above it.
    fn reseed_from_errors(&mut self, dead: &[Vec<usize>], epoch: usize) {
        let take = self.rows.min(KMEANS_MAX_ROWS);
        let sample: Vec<usize> = self.permutation(epoch)[..take].to_vec();
        let mut residual = self.engine.latents(&sample);
        let dim = self.config.latent_dim;
        let mut rng = StdRng::seed_from_u64(self.train.seed ^ ((epoch as u64) << 20) ^ 0x5eed);
        for (level, dead) in dead.iter().enumerate() {
            let mut values = self.engine.codebook(level);
            if !dead.is_empty() {
                let (_, errors) = nearest_rows(&residual, &values, dim);
                let picks = draw_by_weight(errors, dead.len(), &mut rng);
                for (&code, &src) in dead.iter().zip(picks.iter().cycle()) {
                    values[code * dim..(code + 1) * dim]
                        .copy_from_slice(&residual[src * dim..(src + 1) * dim]);
                }
            }
            subtract_nearest(&mut residual, &values, dim);
            if !dead.is_empty() {
                self.engine.set_codebook(level, values);
            }
        }
    }

    pub fn weights(&self) -> ModelWeights {
        self.engine.weights()
    }

    /// Writes model, optimizer state and progress into `dir` so that a kill at any moment leaves
    /// one complete checkpoint: the new one is written and synced in `dir.tmp`, the old one is
    /// renamed to `dir.old`, the new one renamed into place, and only then `dir.old` removed.
    /// [`recover_checkpoint`] puts `dir.old` back when a kill fell between the two renames.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let err = |reason: String| TrainError::Checkpoint {
            path: dir.display().to_string(),
            reason,
        };
        let (tmp, old) = (sibling(dir, "tmp"), sibling(dir, "old"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| err(e.to_string()))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| err(e.to_string()))?;
        write_synced(
            &tmp.join("model.safetensors"),
            &self.weights().to_bytes(Precision::F32)?,
        )
        .map_err(|e| err(e.to_string()))?;
        let param_ids = self
            .engine
            .save_optimizer(&tmp.join("optimizer"))
            .map_err(err)?;
        sync_file(&tmp.join("optimizer.bin")).map_err(|e| err(e.to_string()))?;
        let state = CheckpointState {
            epochs_done: self.epochs_done,
            step: self.step,
            param_ids,
            model: self.config.clone(),
            train: self.train.clone(),
        };
        write_synced(
            &tmp.join("state.json"),
            serde_json::to_string_pretty(&state)
                .expect("state serialises")
                .as_bytes(),
        )
        .map_err(|e| err(e.to_string()))?;
        if dir.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(|e| err(e.to_string()))?;
            }
            std::fs::rename(dir, &old).map_err(|e| err(e.to_string()))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| err(e.to_string()))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent).map_err(|e| err(e.to_string()))?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }

    /// Continues from a checkpoint written by [`Trainer::save_checkpoint`] with any engine.
    /// `train` may extend the number of epochs; everything else must match what the run
    /// started with.
    pub fn resume(
        dir: &Path,
        train: TrainConfig,
        data: &Embeddings,
        device: &E::Device,
    ) -> Result<Self, TrainError> {
        let err = |reason: String| TrainError::Checkpoint {
            path: dir.display().to_string(),
            reason,
        };
        recover_checkpoint(dir).map_err(|e| err(e.to_string()))?;
        let state = read_state(dir)?;
        check_recipe(&train, data, &state.model)?;
        let unchanged = TrainConfig {
            epochs: state.train.epochs,
            ..train.clone()
        };
        if unchanged != state.train {
            return Err(err(format!(
                "only the number of epochs may change on resume; the run was started with {} \
                 and is resumed with {}",
                serde_json::to_string(&state.train).expect("serialises"),
                serde_json::to_string(&train).expect("serialises"),
            )));
        }
        let bytes = std::fs::read(dir.join("model.safetensors")).map_err(|e| err(e.to_string()))?;
        let weights = ModelWeights::from_bytes(&bytes)?;
        let engine = E::restore(
            &weights,
            &dir.join("optimizer"),
            &state.param_ids,
            &train,
            data,
            device,
        )
        .map_err(err)?;
        Ok(Self {
            engine,
            config: state.model,
            rows: data.rows(),
            train,
            epochs_done: state.epochs_done,
            step: state.step,
        })
    }
}

impl<B: AutodiffBackend> Trainer<BurnEngine<B>> {
    /// The current model without autodiff, for evaluation and export.
    pub fn inference_model(&self) -> RqVae<B::InnerBackend> {
        self.engine.inference_model()
    }
}

/// Subtracts from every row of `points` its nearest row of `codebook`: the next level's
/// residual.
fn subtract_nearest(points: &mut [f32], codebook: &[f32], dim: usize) {
    let (ids, _) = nearest_rows(points, codebook, dim);
    for (row, &c) in points.chunks_exact_mut(dim).zip(&ids) {
        let code = &codebook[c as usize * dim..(c as usize + 1) * dim];
        row.iter_mut().zip(code).for_each(|(r, c)| *r -= c);
    }
}

/// The recipe the checkpoint in `dir` was written with.
pub fn saved_recipe(dir: &Path) -> Result<TrainConfig, TrainError> {
    Ok(read_state(dir)?.train)
}

fn read_state(dir: &Path) -> Result<CheckpointState, TrainError> {
    let err = |reason: String| TrainError::Checkpoint {
        path: dir.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("state.json: {e}")))
}

/// `dir` with `.suffix` appended to its last component.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Makes renames inside `dir` durable. Directories cannot be opened for syncing on Windows;
/// there the rename is as durable as the platform makes it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Restores the state [`Trainer::save_checkpoint`] guarantees after a kill during a save: when
/// only `dir.old` is complete (the kill fell between its two renames) it becomes `dir` again;
/// a half-written `dir.tmp`, and a `dir.old` that is no longer needed, are removed.
pub fn recover_checkpoint(dir: &Path) -> std::io::Result<()> {
    let (tmp, old) = (sibling(dir, "tmp"), sibling(dir, "old"));
    if !dir.exists() && old.exists() {
        std::fs::rename(&old, dir)?;
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Whether `run`'s checkpoint, or the earlier one a kill during a save left behind, exists.
pub fn has_checkpoint(run: &Path) -> bool {
    let dir = checkpoint_dir(run);
    dir.join("state.json").is_file() || sibling(&dir, "old").join("state.json").is_file()
}

/// `count` distinct indices drawn with probability proportional to `weights`, without
/// replacement; once every positive weight is used, the rest are uniform over what is left.
fn draw_by_weight(mut weights: Vec<f32>, count: usize, rng: &mut StdRng) -> Vec<usize> {
    use rand::RngExt;
    let n = weights.len();
    let mut picks = Vec::with_capacity(count.min(n));
    let mut taken = vec![false; n];
    while picks.len() < count.min(n) {
        let total: f64 = weights.iter().map(|&w| w.max(0.0) as f64).sum();
        let pick = if total > 0.0 && total.is_finite() {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = None;
            for (i, &w) in weights.iter().enumerate() {
                target -= w.max(0.0) as f64;
                if w > 0.0 && target <= 0.0 {
                    chosen = Some(i);
                    break;
                }
            }
            chosen.unwrap_or_else(|| weights.iter().rposition(|&w| w > 0.0).unwrap_or(0))
        } else {
            let free: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
            free[rng.random_range(0..free.len())]
        };
        taken[pick] = true;
        weights[pick] = 0.0;
        picks.push(pick);
    }
    picks
}

/// Every parameter's id, in a fixed order: encoder layers (weight, bias), codebooks, decoder.
/// Checkpoints list their optimizer state's ids in this order, whatever the engine.
pub(crate) fn param_order<B: Backend>(model: &RqVae<B>) -> Vec<ParamId> {
    let mlp = |m: &crate::model::Mlp<B>| -> Vec<ParamId> {
        m.layers
            .iter()
            .flat_map(|l| std::iter::once(l.weight.id).chain(l.bias.as_ref().map(|b| b.id)))
            .collect()
    };
    let mut ids = mlp(&model.encoder);
    ids.extend(model.quantizer.codebooks.iter().map(|c| c.id));
    if let Some(d) = &model.decoder {
        ids.extend(mlp(d));
    }
    ids
}

/// Refuses a recipe that cannot run on `data` with a model of `config`.
fn check_recipe(
    train: &TrainConfig,
    data: &Embeddings,
    config: &RqVaeConfig,
) -> Result<(), TrainError> {
    if train.batch_size == 0 {
        return Err(TrainError::ZeroBatch);
    }
    if train.epochs == 0 {
        return Err(TrainError::ZeroEpochs);
    }
    if train.ae_warmup_epochs > 0 && train.ae_warmup_epochs >= train.epochs {
        return Err(TrainError::WarmupTooLong {
            warmup: train.ae_warmup_epochs,
            epochs: train.epochs,
        });
    }
    if train.batch_size > data.rows() {
        return Err(TrainError::BatchTooLarge {
            batch: train.batch_size,
            rows: data.rows(),
        });
    }
    if data.dim() != config.input_dim {
        return Err(TrainError::Dim {
            expected: config.input_dim,
            found: data.dim(),
        });
    }
    let collision = |(field, expected, found)| TrainError::Collision {
        field,
        expected,
        found,
    };
    check_level_term(
        &train.collision_weight,
        train.collision_temperature,
        [
            "every collision_weight",
            "collision_weight",
            "collision_temperature",
        ],
        config.levels,
    )
    .map_err(collision)?;
    // A row's prefix is numbered by its codes in base `codebook_size` (an i64 on the device).
    let prefix_space = (config.codebook_size as f64).powi(config.levels.saturating_sub(1) as i32);
    if train.collision_penalty().is_on() && prefix_space >= i64::MAX as f64 {
        return Err(collision((
            "the model",
            "small enough to number its ID prefixes in 64 bits",
            format!("{} levels of {} codes", config.levels, config.codebook_size),
        )));
    }
    check_level_term(
        &train.usage_weight,
        train.usage_temperature,
        ["every usage_weight", "usage_weight", "usage_temperature"],
        config.levels,
    )
    .map_err(|(field, expected, found)| TrainError::CodeUsage {
        field,
        expected,
        found,
    })?;
    Ok(())
}

/// What is wrong with a per-level loss term's settings (`weights` for a model of `levels`, and its
/// softmax `temperature`), as (field, expected, found); `names` are the recipe's names for each
/// weight, the weight list and the temperature.
fn check_level_term(
    weights: &[f32],
    temperature: f32,
    names: [&'static str; 3],
    levels: usize,
) -> Result<(), (&'static str, &'static str, String)> {
    if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
        return Err((names[0], "a finite number ≥ 0", w.to_string()));
    }
    if weights.len() > levels {
        return Err((
            names[1],
            "one weight per quantizer level at most",
            format!("{} weights for {levels} levels", weights.len()),
        ));
    }
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err((names[2], "a finite number > 0", temperature.to_string()));
    }
    Ok(())
}

/// The learning rate at `step` of `total` (see [`Trainer::lr_at`]).
pub fn lr_schedule(train: &TrainConfig, step: usize, total: usize) -> f64 {
    let warmup = ((train.warmup_fraction * total as f64).round() as usize).max(1);
    if step < warmup {
        return train.lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    train.lr_min + 0.5 * (train.lr - train.lr_min) * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// The path of a run's checkpoint.
pub fn checkpoint_dir(run: &Path) -> PathBuf {
    run.join("checkpoint")
}
