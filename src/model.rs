//! The RQ-VAE: MLP encoder → residual quantizer → MLP decoder.

use crate::collision::BatchCollision;
use crate::config::RqVaeConfig;
use crate::input_transform::InputTransform;
use crate::quantizer::{Balance, QuantizerOutput, ResidualQuantizer};
use burn::module::{Initializer, Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor};

/// Linear layers with ReLU between them (none after the last, so outputs are unbounded).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub layers: Vec<Linear<B>>,
}

impl<B: Backend> Mlp<B> {
    /// Layers mapping `widths[0] → widths[1] → … → widths[last]`.
    ///
    /// He initialisation (gain √2 before a ReLU, 1 for the last layer) and zero biases keep
    /// activations at the input's scale. burn's default (uniform ±1/√fan_in) shrinks them about
    /// 2.4× per layer, leaving a latent so small that AdamW's fixed-size codebook steps scatter
    /// the codes and most of them die.
    pub fn new(widths: &[usize], device: &B::Device) -> Self {
        let last = widths.len().saturating_sub(2);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let gain = if i < last {
                    std::f64::consts::SQRT_2
                } else {
                    1.0
                };
                let mut layer = LinearConfig::new(w[0], w[1])
                    .with_initializer(Initializer::KaimingNormal {
                        gain,
                        fan_out_only: false,
                    })
                    .init(device);
                layer.bias = Some(Param::from_tensor(Tensor::zeros([w[1]], device)));
                layer
            })
            .collect();
        Self { layers }
    }

    /// Assembles an MLP from `(weight [in, out], bias [out])` pairs.
    pub fn from_tensors(layers: Vec<(Tensor<B, 2>, Tensor<B, 1>)>) -> Self {
        let layers = layers
            .into_iter()
            .map(|(weight, bias)| Linear {
                weight: Param::from_tensor(weight),
                bias: Some(Param::from_tensor(bias)),
            })
            .collect();
        Self { layers }
    }

    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |x, (i, layer)| {
            let y = layer.forward(x);
            if i < last {
                relu(y)
            } else {
                y
            }
        })
    }
}

/// The whole model. `decoder` is optional: browser exports may ship the encoder and codebooks only.
#[derive(Module, Debug)]
pub struct RqVae<B: Backend> {
    /// Applied to inputs by [`Self::encode`] and undone by [`Self::decode`]; fixed when training
    /// starts, never a parameter ([`crate::input_transform`]).
    #[module(skip)]
    pub input: Option<InputTransform>,
    pub encoder: Mlp<B>,
    pub quantizer: ResidualQuantizer<B>,
    pub decoder: Option<Mlp<B>>,
}

/// A training forward pass.
pub struct ForwardOutput<B: Backend> {
    pub reconstruction: Tensor<B, 2>,
    pub quantizer: QuantizerOutput<B>,
    /// The encoder's output before quantization.
    pub latent: Tensor<B, 2>,
}

impl RqVaeConfig {
    /// A freshly initialised model; codebooks start as small random vectors until k-means
    /// (see [`crate::kmeans`]) puts them on the data.
    pub fn init<B: Backend>(&self, device: &B::Device) -> RqVae<B> {
        let codebooks = (0..self.levels)
            .map(|_| {
                Tensor::random(
                    [self.codebook_size, self.latent_dim],
                    Distribution::Normal(0.0, 0.01),
                    device,
                )
            })
            .collect();
        RqVae {
            input: None,
            encoder: Mlp::new(&self.encoder_widths(), device),
            quantizer: ResidualQuantizer::from_codebooks(codebooks),
            decoder: Some(Mlp::new(&self.decoder_widths(), device)),
        }
    }
}

impl<B: Backend> RqVae<B> {
    /// Inputs as the encoder takes them: through the input transform, if the model has one.
    pub fn transform_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.input {
            Some(t) => t.apply_tensor(x),
            None => x,
        }
    }

    /// Semantic IDs `[n, levels]` for inputs `[n, input_dim]`.
    pub fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2, Int> {
        self.quantizer
            .encode(self.encoder.forward(self.transform_input(x)))
    }

    /// [`Self::encode`] plus each row's decision margin (see
    /// [`ResidualQuantizer::encode_with_margin`]).
    pub fn encode_with_margin(&self, x: Tensor<B, 2>) -> (Tensor<B, 2, Int>, Tensor<B, 1>) {
        self.quantizer
            .encode_with_margin(self.encoder.forward(self.transform_input(x)))
    }

    /// Reconstructed inputs `[n, input_dim]` for IDs `[n, levels]`, in the inputs' space (the
    /// input transform undone); `None` without a decoder.
    pub fn decode(&self, ids: Tensor<B, 2, Int>) -> Option<Tensor<B, 2>> {
        let decoder = self.decoder.as_ref()?;
        let y = decoder.forward(self.quantizer.decode_ids(ids));
        Some(match &self.input {
            Some(t) => t.invert_tensor(y),
            None => y,
        })
    }

    /// The training pass, on inputs already transformed ([`Self::transform_input`]: the
    /// trainer transforms its data once), so the reconstruction is in the encoder's input space
    /// too. Panics without a decoder; training always builds one.
    pub fn forward(
        &self,
        x: Tensor<B, 2>,
        balance: &Balance,
        collision: Option<&BatchCollision<B>>,
    ) -> ForwardOutput<B> {
        let latent = self.encoder.forward(x);
        let quantizer = self.quantizer.forward(latent.clone(), balance, collision);
        let decoder = self
            .decoder
            .as_ref()
            .expect("training needs a model with a decoder");
        ForwardOutput {
            reconstruction: decoder.forward(quantizer.quantized.clone()),
            quantizer,
            latent,
        }
    }
}
