//! The learning-rate schedule: linear warm-up, then cosine decay to the floor.

use super::config::TrainConfig;

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
