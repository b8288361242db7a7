//! The model's shape: every size the encoder, quantizer and decoder need.

use serde::{Deserialize, Serialize};

/// Sizes of an RQ-VAE. Serialised as JSON inside every weights file, so a model always carries the
/// configuration it was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RqVaeConfig {
    /// Dimension of the input embeddings.
    #[serde(default = "defaults::input_dim")]
    pub input_dim: usize,
    /// Hidden widths of the encoder MLP; the decoder mirrors them.
    #[serde(default = "defaults::hidden_dims")]
    pub hidden_dims: Vec<usize>,
    /// Dimension of the latent that is quantized.
    #[serde(default = "defaults::latent_dim")]
    pub latent_dim: usize,
    /// Number of residual quantization levels (length of a semantic ID).
    #[serde(default = "defaults::levels")]
    pub levels: usize,
    /// Codes per level.
    #[serde(default = "defaults::codebook_size")]
    pub codebook_size: usize,
}

mod defaults {
    pub fn input_dim() -> usize {
        1024
    }
    pub fn hidden_dims() -> Vec<usize> {
        vec![512, 256, 128]
    }
    pub fn latent_dim() -> usize {
        32
    }
    pub fn levels() -> usize {
        3
    }
    pub fn codebook_size() -> usize {
        256
    }
}

impl Default for RqVaeConfig {
    /// The reference model card: 1024 → 512 → 256 → 128 → 32, 3 levels × 256 codes.
    fn default() -> Self {
        Self {
            input_dim: defaults::input_dim(),
            hidden_dims: defaults::hidden_dims(),
            latent_dim: defaults::latent_dim(),
            levels: defaults::levels(),
            codebook_size: defaults::codebook_size(),
        }
    }
}

/// A configuration that cannot describe a model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config: {field} must be at least {min}, found {found}")]
    TooSmall {
        field: &'static str,
        min: usize,
        found: usize,
    },
    #[error("config: codebook_size {0} does not fit the u16 IDs the API returns (at most 65536)")]
    CodebookTooLarge(usize),
    #[error("config is not valid JSON for RqVaeConfig: {0}")]
    Json(String),
}

impl RqVaeConfig {
    /// The reference architecture for inputs of `input_dim` dimensions.
    pub fn with_input_dim(input_dim: usize) -> Self {
        Self {
            input_dim,
            ..Self::default()
        }
    }

    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("RqVaeConfig always serialises")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |field, min, found| {
            if found < min {
                Err(ConfigError::TooSmall { field, min, found })
            } else {
                Ok(())
            }
        };
        check("input_dim", 1, self.input_dim)?;
        check("latent_dim", 1, self.latent_dim)?;
        check("levels", 1, self.levels)?;
        check("codebook_size", 2, self.codebook_size)?;
        for &width in &self.hidden_dims {
            check("hidden_dims[..]", 1, width)?;
        }
        if self.codebook_size > 1 << 16 {
            return Err(ConfigError::CodebookTooLarge(self.codebook_size));
        }
        Ok(())
    }

    /// Layer widths of the encoder, input to latent.
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut widths = vec![self.input_dim];
        widths.extend(&self.hidden_dims);
        widths.push(self.latent_dim);
        widths
    }

    /// Layer widths of the decoder, latent to input.
    pub fn decoder_widths(&self) -> Vec<usize> {
        let mut widths = self.encoder_widths();
        widths.reverse();
        widths
    }
}
