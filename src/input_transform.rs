//! The model's input transform: inputs are centred on the training data's mean and scaled to
//! unit mean squared norm before the encoder sees them. Embedding models such as E5, BGE and GTE
//! put every vector near one common direction; a model trained on them as they are spends its
//! capacity on that direction and its IDs stop following the items' neighbours. Centring removes
//! the common direction and keeps every distance between items (up to the one scale), so the
//! neighbours the IDs should follow are those of the original space.
//!
//! The transform is part of the model: stored in its weights (format version 2), applied by
//! every backend before the encoder and undone after the decoder, and covered by the model's
//! fingerprint. Each input value becomes `(x − mean) · scale`, one subtraction then one
//! multiplication, both correctly rounded on every target, so the ID contract is unchanged.

use crate::anisotropy::Anisotropy;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Which input transform training gives a new model (`TrainConfig::input_transform`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputTransformChoice {
    /// Centre when the data is anisotropic (its random pairs' mean cosine above
    /// [`crate::anisotropy::ANISOTROPIC_COSINE`]), else none: models of isotropic embeddings stay
    /// as they were.
    #[default]
    Auto,
    /// No transform: the encoder sees the inputs as they are (format version 1).
    None,
    /// Centre on the mean and scale to unit mean squared norm.
    Center,
}

impl InputTransformChoice {
    /// Whether data of this anisotropy gets a transform.
    pub fn centers(self, anisotropy: &Anisotropy) -> bool {
        match self {
            Self::Auto => anisotropy.is_anisotropic(),
            Self::None => false,
            Self::Center => true,
        }
    }
}

/// Why a transform cannot be fitted to data or read from weights.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputTransformError {
    #[error("cannot centre the inputs: they are empty")]
    Empty,
    #[error(
        "cannot centre the inputs: every row equals their mean, so there is no spread to scale"
    )]
    NoSpread,
    #[error("input transform: mean has {found} values but the model's input has {expected}")]
    Dim { expected: usize, found: usize },
    #[error("input transform: scale {0} is not a positive finite number")]
    Scale(f32),
}

/// `x ↦ (x − mean) · scale`, per input value.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransform {
    /// The training data's mean row, `[input_dim]`.
    pub mean: Vec<f32>,
    /// One over the root mean squared norm of the centred training rows.
    pub scale: f32,
}

impl InputTransform {
    /// Checks the values against the model's input dimension.
    pub fn new(mean: Vec<f32>, scale: f32, input_dim: usize) -> Result<Self, InputTransformError> {
        if mean.len() != input_dim {
            return Err(InputTransformError::Dim {
                expected: input_dim,
                found: mean.len(),
            });
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(InputTransformError::Scale(scale));
        }
        Ok(Self { mean, scale })
    }

    /// The transform that centres `x` (`[n, dim]` row-major) and gives its rows unit mean
    /// squared norm. Sums are in f64, so the result does not depend on the row count's size.
    pub fn fit(x: &[f32], dim: usize) -> Result<Self, InputTransformError> {
        let n = x.len().checked_div(dim).unwrap_or(0);
        if n == 0 {
            return Err(InputTransformError::Empty);
        }
        let mut sum = vec![0f64; dim];
        for row in x.chunks_exact(dim) {
            sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        }
        let mean: Vec<f32> = sum.iter().map(|s| (s / n as f64) as f32).collect();
        let squared: f64 = x
            .chunks_exact(dim)
            .map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(|(&v, &m)| ((v - m) as f64).powi(2))
                    .sum::<f64>()
            })
            .sum();
        let rms = (squared / n as f64).sqrt();
        // A spread below f32's resolution of the values is rounding, not data; NaN rows give a
        // NaN scale, which `new` refuses.
        let magnitude = mean.iter().map(|&m| (m as f64).powi(2)).sum::<f64>().sqrt();
        if rms <= 1e-6 * magnitude.max(f32::MIN_POSITIVE as f64) {
            return Err(InputTransformError::NoSpread);
        }
        Self::new(mean, (1.0 / rms) as f32, dim)
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Writes the transformed rows of `x` into `out` (resized to fit).
    pub fn apply_into(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            x.iter()
                .zip(self.mean.iter().cycle())
                .map(|(&v, &m)| (v - m) * self.scale),
        );
    }

    /// The transformed rows of `x`.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len());
        self.apply_into(x, &mut out);
        out
    }

    /// Undoes the transform in place: a decoder's output back in the inputs' space.
    pub fn invert_in_place(&self, y: &mut [f32]) {
        for (v, &m) in y.iter_mut().zip(self.mean.iter().cycle()) {
            *v = *v / self.scale + m;
        }
    }

    /// [`Self::apply`] on a backend.
    pub fn apply_tensor<B: Backend>(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let mean = self.mean_tensor::<B>(&x.device());
        x.sub(mean).mul_scalar(self.scale)
    }

    /// [`Self::invert_in_place`] on a backend.
    pub fn invert_tensor<B: Backend>(&self, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let mean = self.mean_tensor::<B>(&y.device());
        y.div_scalar(self.scale).add(mean)
    }

    fn mean_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        Tensor::from_data(TensorData::new(self.mean.clone(), [1, self.dim()]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_transform_centres_and_gives_unit_mean_squared_norm() {
        let x = [1.0f32, 2.0, 3.0, 6.0, 5.0, 4.0];
        let t = InputTransform::fit(&x, 2).unwrap();
        assert_eq!(t.mean, vec![3.0, 4.0]);
        let y = t.apply(&x);
        let msn: f32 = y.chunks(2).map(|r| r[0] * r[0] + r[1] * r[1]).sum::<f32>() / 3.0;
        assert!((msn - 1.0).abs() < 1e-6, "{msn}");
        let mut back = y.clone();
        t.invert_in_place(&mut back);
        for (a, b) in back.iter().zip(&x) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn data_without_spread_or_rows_is_refused_by_name() {
        assert_eq!(
            InputTransform::fit(&[0.5, 0.5, 0.5, 0.5], 2),
            Err(InputTransformError::NoSpread)
        );
        assert_eq!(InputTransform::fit(&[], 2), Err(InputTransformError::Empty));
        assert!(matches!(
            InputTransform::new(vec![0.0; 3], 1.0, 4),
            Err(InputTransformError::Dim {
                expected: 4,
                found: 3
            })
        ));
        assert!(matches!(
            InputTransform::new(vec![0.0; 4], f32::NAN, 4),
            Err(InputTransformError::Scale(_))
        ));
    }
}
