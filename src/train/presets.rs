//! The named training recipes, each a [`TrainConfig`] built on the defaults. Why each is what it
//! is, and what it measured, is in `docs/training.md`: figures change as recipes are tuned, and
//! doc comments would keep the old ones.

use super::config::TrainConfig;

impl TrainConfig {
    /// The reference model card's recipe, the same as `Default`.
    pub fn reference() -> Self {
        Self::default()
    }

    /// The shipped default model's first stage: batch 512, LR 1e-3, the code-usage term on
    /// level A throughout and the prefix-collision penalty on levels B and C for the last fifth.
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

    /// The shipped default model's second stage, on a trained model: batch 4096, LR 5e-5 without
    /// warm-up, the penalty on level C and the code-usage term on levels A and B throughout.
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

    /// [`Self::collision_fine_tune`] with a strong code-usage term on levels A and B (3 and 1),
    /// to even out the codes of a model first trained without the term.
    pub fn balanced_fine_tune(epochs: usize) -> Self {
        Self {
            usage_weight: vec![3.0, 1.0, 0.0],
            ..Self::collision_fine_tune(epochs)
        }
    }
}
