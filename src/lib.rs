//! RQ-VAE semantic IDs for product catalogs.
//!
//! An [`RqVae`] compresses an item embedding into a short hierarchical code (A, B, C): an MLP
//! encoder maps it to a latent, a residual quantizer picks one code per level, and an MLP
//! decoder reconstructs the embedding from the codes. The model is generic over burn's
//! [`Backend`](burn::tensor::backend::Backend), so the same code trains natively (CPU or CUDA) and
//! assigns IDs in the browser (WebGPU or CPU).

pub mod config;
pub mod embeddings;
pub mod inference;
pub mod kmeans;
pub mod metrics;
pub mod model;
pub mod npy;
pub mod quantizer;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "wasm")]
mod wasm_api;
pub mod weights;

pub use config::{ConfigError, RqVaeConfig};
pub use embeddings::{Embeddings, EmbeddingsError};
pub use metrics::{EvalOptions, Metrics};
pub use model::RqVae;
pub use weights::{ModelWeights, Precision, WeightsError};

/// The CPU backend used natively and as the browser's fallback.
pub type CpuBackend = burn::backend::NdArray<f32>;
