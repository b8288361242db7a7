//! RQ-VAE semantic IDs for product catalogs.
//!
//! An [`RqVae`] compresses an item embedding into a short hierarchical code (A, B, C): an MLP
//! encoder maps it to a latent, a residual quantizer picks one code per level, and an MLP
//! decoder reconstructs the embedding from the codes. The model is generic over burn's
//! [`Backend`](burn::tensor::backend::Backend), so the same code trains natively (CPU or CUDA) and
//! assigns IDs in the browser (WebGPU or CPU).

pub mod assign;
pub mod canonical;
pub mod code_usage;
pub mod collision;
pub mod config;
mod dense;
pub mod embeddings;
pub mod fingerprint;
pub mod host_model;
pub mod id_quality;
pub mod id_table;
pub mod inference;
pub mod kmeans;
mod lanes;
pub mod metrics;
pub mod model;
pub mod npy;
pub mod quantizer;
pub mod sinkhorn;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "wasm")]
mod wasm_api;
#[cfg(feature = "wasm")]
mod wasm_error;
pub mod weights;

pub use config::{ConfigError, RqVaeConfig};
pub use embeddings::{Embeddings, EmbeddingsError};
pub use host_model::HostModel;
pub use metrics::{EvalOptions, Metrics};
pub use model::RqVae;
pub use weights::{ModelWeights, Precision, WeightsError};

/// burn's CPU backend, used natively. (The browser's CPU path is [`host_model::HostModel`].)
#[cfg(feature = "ndarray")]
pub type CpuBackend = burn::backend::NdArray<f32>;
