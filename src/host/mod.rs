//! Computation on host memory without a tensor library: the trained RQ-VAE's inference
//! ([`model::HostModel`], the browser's CPU path and the definition of an ID), its dense-layer
//! kernel and SIMD lanes, and natively the packed matrix products of the CPU training engine
//! and the text encoder.

pub(crate) mod dense;
#[cfg(any(feature = "train", feature = "text"))]
pub(crate) mod dispatch;
pub(crate) mod lanes;
#[cfg(all(any(feature = "train", feature = "text"), not(target_arch = "wasm32")))]
pub(crate) mod matmul;
pub mod model;
