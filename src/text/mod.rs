//! Text in, sentence vectors out: a BERT-family sentence encoder (the architecture of
//! all-MiniLM-L6/L12-v2, bge-small-en-v1.5, e5-small-v2 and gte-small), so that an editor's
//! product titles become semantic IDs without a Python pipeline.
//!
//! - [`config`]: what a sentence-transformers directory says (sizes, pooling, normalisation,
//!   maximum length), unsupported models refused by name;
//! - [`tokenizer`]: WordPiece by Hugging Face's `tokenizers`, from the model's `tokenizer.json`;
//! - [`weights`]: the parameters, from safetensors under Hugging Face's names;
//! - [`host`] and [`math`]: the forward pass on host memory (CPU, natively and in wasm);
//! - [`model`]: the same model as a burn module, for CUDA and WebGPU;
//! - [`bundle`]: one file for the browser (F16 weights, config and vocabulary);
//! - [`encoder`]: [`SentenceEncoder`], which ties them together.

pub mod bundle;
pub mod config;
pub mod encoder;
pub mod error;
pub mod host;
pub mod items;
pub mod math;
pub mod model;
pub mod tokenizer;
pub mod weights;

pub use config::{BertConfig, Pooling, TextModelConfig};
pub use encoder::SentenceEncoder;
pub use error::TextModelError;
