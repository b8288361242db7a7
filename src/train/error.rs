//! Why training cannot start or continue.

use crate::weights::WeightsError;

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
    #[error("training data: {0}")]
    InputTransform(#[from] crate::input_transform::InputTransformError),
}
