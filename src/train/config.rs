//! The training recipe ([`TrainConfig`]: every setting, with the reference model card's values
//! as defaults) and the checks that refuse a recipe before any work is done.

use super::error::TrainError;
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::input_transform::InputTransformChoice;
use serde::{Deserialize, Serialize};

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
    /// The input transform a new model gets ([`crate::input_transform`]): `auto` centres the
    /// inputs when they are anisotropic, `none` and `center` decide it regardless. A run from
    /// `--init-from` or a checkpoint keeps its model's transform.
    pub input_transform: InputTransformChoice,
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
            input_transform: InputTransformChoice::Auto,
            seed: 42,
        }
    }
}

impl TrainConfig {
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
}

/// Refuses a recipe that cannot run on `data` with a model of `config`.
pub(super) fn check_recipe(
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
