//! RQ-VAE semantic IDs for product catalogs.
//!
//! An [`RqVae`] compresses an item embedding into a short hierarchical code (A, B, C): an MLP
//! encoder maps it to a latent, a residual quantizer picks one code per level, and an MLP
//! decoder reconstructs the embedding from the codes. The model is generic over burn's
//! [`Backend`](burn::tensor::backend::Backend), so the same code trains natively (CPU or CUDA) and
//! assigns IDs in the browser (WebGPU or CPU).

pub mod anisotropy;
#[cfg(not(target_arch = "wasm32"))]
pub mod atomic;
pub mod code_usage;
pub mod collision;
pub mod config;
pub mod embeddings;
#[cfg(all(feature = "parquet", not(target_arch = "wasm32")))]
pub mod embeddings_file;
pub mod host;
pub mod ids;
#[cfg(all(feature = "pytorch", not(target_arch = "wasm32")))]
pub mod import;
pub mod inference;
pub mod input_transform;
pub mod kmeans;
pub mod map;
pub mod metrics;
pub mod model;
pub mod model_card;
pub mod npy;
#[cfg(all(feature = "parquet", not(target_arch = "wasm32")))]
pub mod parquet;
pub mod quantizer;
pub mod sample;
pub mod sinkhorn;
#[cfg(feature = "text")]
pub mod text;
#[cfg(feature = "train")]
pub mod train;
#[cfg(any(feature = "wasm", feature = "wasm-text"))]
mod wasm;
pub mod weights;

pub use config::{ConfigError, RqVaeConfig};
pub use embeddings::{Embeddings, EmbeddingsError};
pub use host::model::HostModel;
pub use metrics::{EvalOptions, Metrics};
pub use model::RqVae;
pub use weights::{ModelWeights, Precision, WeightsError};

/// burn's CPU backend, used natively. (The browser's CPU path is [`host::model::HostModel`].)
#[cfg(feature = "ndarray")]
pub type CpuBackend = burn::backend::NdArray<f32>;
