//! What a training engine does for [`super::Trainer`]: the optimizer step on a batch and the
//! few reads and writes the epoch loop needs (latents for k-means and re-seeding, codebooks,
//! weights, optimizer state). The recipe itself (batches, learning rate, dead codes,
//! checkpoints) lives in the trainer, so every engine follows it the same way.
//!
//! Two engines exist: [`super::BurnEngine`] runs burn's autodiff on any backend (CUDA, or burn's
//! CPU backend), and [`super::CpuEngine`] computes the same gradients with hand-written backward
//! passes on the CPU. Both save the same checkpoint, so a run can resume on either.

use super::TrainConfig;
use crate::collision::CollisionPenalty;
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::quantizer::Balance;
use crate::weights::ModelWeights;
use std::path::Path;

/// The loss weights and code assignment of a training step.
#[derive(Debug, Clone)]
pub struct StepRecipe {
    pub codebook_weight: f32,
    pub commitment_weight: f32,
    pub balance: Balance,
    pub collision: CollisionPenalty,
}

impl StepRecipe {
    pub fn from_train(train: &TrainConfig) -> Self {
        Self {
            codebook_weight: train.codebook_weight,
            commitment_weight: train.commitment_weight,
            balance: Balance {
                epsilon: train.sinkhorn_epsilon.clone(),
                iterations: train.sinkhorn_iterations,
                usage: train.code_usage(),
            },
            collision: train.collision_penalty(),
        }
    }
}

/// What the steps since the last [`Engine::take_totals`] add up to. Engines keep these where
/// they compute (on a GPU, on the device) so that a step needs no read-back: one read per
/// epoch instead of four per step.
#[derive(Debug, Clone, Default)]
pub struct StepTotals {
    /// How many rows chose each code, `[levels × codebook_size]` (level-major); empty after
    /// autoencoder steps only.
    pub counts: Vec<usize>,
    /// Sums over the steps of their reconstruction, codebook and commitment losses.
    pub losses: [f64; 3],
}

/// A model, its optimizer state and the training data, on some device.
pub trait Engine: Sized {
    /// Where the engine computes: a burn device, or the CPU engine's thread settings.
    type Device: Clone;

    /// A freshly initialised model for `config` (seeded by `train.seed`) holding `data`.
    fn init(
        config: &RqVaeConfig,
        train: &TrainConfig,
        data: &Embeddings,
        device: &Self::Device,
    ) -> Self;

    /// A model starting from `weights` (every tensor, decoder included) with a fresh optimizer:
    /// the start of a fine-tuning run.
    fn from_weights(
        weights: &ModelWeights,
        train: &TrainConfig,
        data: &Embeddings,
        device: &Self::Device,
    ) -> Self;

    /// A model and optimizer state saved by [`Engine::save_optimizer`] of any engine.
    /// `param_ids` lists the saved ids in [`super::param_order`] order.
    fn restore(
        weights: &ModelWeights,
        optimizer: &Path,
        param_ids: &[u64],
        train: &TrainConfig,
        data: &Embeddings,
        device: &Self::Device,
    ) -> Result<Self, String>;

    /// The encoder's output for data rows `rows`, `[rows, latent_dim]` row-major; no gradient.
    fn latents(&self, rows: &[usize]) -> Vec<f32>;

    /// Level `level`'s codebook, `[codebook_size, latent_dim]` row-major.
    fn codebook(&self, level: usize) -> Vec<f32>;

    /// Overwrites a codebook, keeping its optimizer state.
    fn set_codebook(&mut self, level: usize, values: Vec<f32>);

    /// One AdamW step at learning rate `lr` on data rows `rows`, its code counts and losses
    /// added to the engine's totals. With `keep_residuals`, returns the residual each level
    /// quantized (`[rows, latent_dim]` per level); else an empty vector.
    fn step(
        &mut self,
        rows: &[usize],
        lr: f64,
        recipe: &StepRecipe,
        keep_residuals: bool,
    ) -> Vec<Vec<f32>>;

    /// The totals of the steps since the last call, which starts new ones.
    fn take_totals(&mut self) -> StepTotals;

    /// The gradient of the step's loss on data rows `rows` at the current weights, shaped like
    /// the weights, without stepping: what [`Engine::step`] hands to AdamW. Engines are checked
    /// against each other with it.
    fn gradients(&self, rows: &[usize], recipe: &StepRecipe) -> ModelWeights;

    /// One AdamW step of the plain autoencoder (quantizer bypassed); its reconstruction loss
    /// is added to the totals.
    fn autoencoder_step(&mut self, rows: &[usize], lr: f64);

    fn weights(&self) -> ModelWeights;

    /// Writes the optimizer state to `path` (burn's full-precision `BinFileRecorder` format,
    /// which adds `.bin`) and returns the parameter ids it is keyed by, in
    /// [`super::param_order`] order.
    fn save_optimizer(&self, path: &Path) -> Result<Vec<u64>, String>;
}
