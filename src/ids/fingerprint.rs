//! A model's fingerprint: which weights made an ID table.
//!
//! `sha256:` and the hex SHA-256 of what decides IDs: the config's sizes, then every encoder
//! layer's weight and bias and every codebook, as little-endian f32 in that order. The decoder
//! is left out because it never changes an ID, so a browser export without it has the same
//! fingerprint as the full model. Weights stored as f16 are hashed as the f32 values they load
//! as, so the fingerprint is that of the model that computes, not of the file's bytes: exporting
//! a model in f16 changes its values and so its fingerprint. A model with an input transform
//! (format version 2) has its mean and scale hashed after the sizes, behind a tag; a model
//! without one hashes exactly as before the transform existed, so its tables stay its own.

use crate::weights::ModelWeights;
use sha2::{Digest, Sha256};

/// The fingerprint of `weights`, e.g. `sha256:3f9a…` (64 hex digits).
pub fn model_fingerprint(weights: &ModelWeights) -> String {
    let c = &weights.config;
    let mut hash = Sha256::new();
    hash.update(b"rqvae-model-fingerprint-v1");
    for size in c
        .encoder_widths()
        .into_iter()
        .chain([c.levels, c.codebook_size])
    {
        hash.update((size as u64).to_le_bytes());
    }
    if weights.input.is_some() {
        hash.update(b"input-center");
    }
    let mut feed = |values: &[f32]| {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        hash.update(&bytes);
    };
    if let Some(input) = &weights.input {
        feed(&input.mean);
        feed(&[input.scale]);
    }
    for layer in &weights.encoder {
        feed(&layer.weight);
        feed(&layer.bias);
    }
    for codebook in &weights.codebooks {
        feed(codebook);
    }
    let digest = hash.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
