//! burn's AdamW over a whole group of parameters at once, for the burn engine.
//!
//! burn's optimizer updates each parameter on its own: a dozen tensor operations, so on CUDA a
//! dozen kernel launches, for each of the model's parameters. A step of a model this small is
//! bound by launches rather than arithmetic, so the burn engine concatenates a group's
//! gradients and runs the same operations, in the same order, once over them all. Every value
//! is the one burn's AdamW computes (the operations are element-wise), and the state is saved
//! and read as burn's AdamW record, so checkpoints still move between the engines.

use crate::model::{Mlp, RqVae};
use burn::module::{Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{AdamW, AdamWState, AdaptiveMomentumState, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

/// burn's `AdamWConfig` defaults, which both engines use.
pub(super) const BETA_1: f32 = 0.9;
pub(super) const BETA_2: f32 = 0.999;
pub(super) const EPSILON: f32 = 1e-5;

/// What burn's optimizer saves: AdamW's state keyed by parameter id (a `HashMap`).
pub type Record<B> = <OptimizerAdaptor<AdamW, RqVae<B>, B> as Optimizer<RqVae<B>, B>>::Record;

/// The parameter groups, each with its own step count: the autoencoder warm-up steps the MLPs
/// alone, as burn's per-parameter state would.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The encoder's and decoder's weights and biases.
    Mlps,
    Codebooks,
}

/// A group's running moments, its parameters concatenated in [`super::param_order`] order.
struct Moments<B: AutodiffBackend> {
    time: usize,
    first: Tensor<B::InnerBackend, 1>,
    second: Tensor<B::InnerBackend, 1>,
}

/// One parameter's entry of burn's AdamW record: `time` steps taken, its two moments.
pub(super) fn record_entry<B: AutodiffBackend, const D: usize>(
    time: usize,
    first: Tensor<B::InnerBackend, D>,
    second: Tensor<B::InnerBackend, D>,
) -> AdaptorRecord<AdamW, B> {
    AdaptorRecord::from_state::<D>(AdamWState {
        momentum: AdaptiveMomentumState {
            time,
            moment_1: first,
            moment_2: second,
            max_moment_2: None,
        },
    })
}

pub struct FlatAdamW<B: AutodiffBackend> {
    weight_decay: f32,
    moments: [Option<Moments<B>>; 2],
}

/// A mutable parameter of either rank.
enum Slot<'a, B: AutodiffBackend> {
    Matrix(&'a mut Param<Tensor<B, 2>>),
    Vector(&'a mut Param<Tensor<B, 1>>),
}

impl<B: AutodiffBackend> Slot<'_, B> {
    fn id(&self) -> ParamId {
        match self {
            Slot::Matrix(p) => p.id,
            Slot::Vector(p) => p.id,
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Slot::Matrix(p) => p.val().dims().to_vec(),
            Slot::Vector(p) => p.val().dims().to_vec(),
        }
    }

    fn value(&self) -> Tensor<B::InnerBackend, 1> {
        match self {
            Slot::Matrix(p) => p.val().inner().flatten(0, 1),
            Slot::Vector(p) => p.val().inner(),
        }
    }

    fn grad(&self, grads: &mut GradientsParams) -> Option<Tensor<B::InnerBackend, 1>> {
        match self {
            Slot::Matrix(p) => grads
                .remove::<B::InnerBackend, 2>(p.id)
                .map(|g| g.flatten(0, 1)),
            Slot::Vector(p) => grads.remove::<B::InnerBackend, 1>(p.id),
        }
    }

    /// Sets the parameter to `flat` (its values in row-major order), keeping its id.
    fn set(&mut self, flat: Tensor<B::InnerBackend, 1>) {
        match self {
            Slot::Matrix(p) => {
                let [rows, cols] = p.val().dims();
                let value = Tensor::from_inner(flat.reshape([rows, cols])).require_grad();
                **p = p.clone().map(|_| value);
            }
            Slot::Vector(p) => {
                let value = Tensor::from_inner(flat).require_grad();
                **p = p.clone().map(|_| value);
            }
        }
    }
}

/// The parameters of `group`, in [`super::param_order`] order.
fn slots<B: AutodiffBackend>(model: &mut RqVae<B>, group: Group) -> Vec<Slot<'_, B>> {
    fn mlp<'a, B: AutodiffBackend>(m: &'a mut Mlp<B>, out: &mut Vec<Slot<'a, B>>) {
        for layer in &mut m.layers {
            out.push(Slot::Matrix(&mut layer.weight));
            if let Some(b) = &mut layer.bias {
                out.push(Slot::Vector(b));
            }
        }
    }
    let mut out = Vec::new();
    match group {
        Group::Mlps => {
            mlp(&mut model.encoder, &mut out);
            if let Some(d) = &mut model.decoder {
                mlp(d, &mut out);
            }
        }
        Group::Codebooks => out.extend(model.quantizer.codebooks.iter_mut().map(Slot::Matrix)),
    }
    out
}

impl<B: AutodiffBackend> FlatAdamW<B> {
    pub fn new(weight_decay: f32) -> Self {
        Self {
            weight_decay,
            moments: [None, None],
        }
    }

    /// One AdamW step of `group`'s parameters of `model` with `grads`. A group none of whose
    /// parameters has a gradient is left as it is (burn leaves such a parameter untouched);
    /// within a group every parameter takes part in the same losses, so all or none have one.
    pub fn step(
        &mut self,
        model: &mut RqVae<B>,
        grads: &mut GradientsParams,
        lr: f64,
        group: Group,
    ) {
        let mut slots = slots(model, group);
        let found: Vec<Option<Tensor<B::InnerBackend, 1>>> =
            slots.iter().map(|s| s.grad(grads)).collect();
        if found.iter().all(Option::is_none) {
            return;
        }
        let values: Vec<_> = slots.iter().map(Slot::value).collect();
        let sizes: Vec<usize> = values.iter().map(|v| v.dims()[0]).collect();
        let grad = Tensor::cat(
            found
                .into_iter()
                .zip(&values)
                .map(|(g, v)| g.unwrap_or_else(|| v.zeros_like()))
                .collect(),
            0,
        );
        let params = Tensor::cat(values, 0);
        let updated = self.update(group, lr, params, grad);
        let mut offset = 0;
        for (slot, size) in slots.iter_mut().zip(sizes) {
            slot.set(updated.clone().slice(offset..offset + size));
            offset += size;
        }
    }

    /// burn's `AdaptiveMomentumW::transform` and `AdamW::step`, operation for operation.
    fn update(
        &mut self,
        group: Group,
        lr: f64,
        params: Tensor<B::InnerBackend, 1>,
        grad: Tensor<B::InnerBackend, 1>,
    ) -> Tensor<B::InnerBackend, 1> {
        let (factor_1, factor_2) = (1.0 - BETA_1, 1.0 - BETA_2);
        let state = self.moments[group as usize].take();
        let moments = match state {
            Some(m) => Moments {
                time: m.time + 1,
                first: m
                    .first
                    .mul_scalar(BETA_1)
                    .add(grad.clone().mul_scalar(factor_1)),
                second: m
                    .second
                    .mul_scalar(BETA_2)
                    .add(grad.square().mul_scalar(factor_2)),
            },
            None => Moments {
                time: 1,
                first: grad.clone().mul_scalar(factor_1),
                second: grad.square().mul_scalar(factor_2),
            },
        };
        let time = moments.time as i32;
        let first = moments.first.clone().div_scalar(1f32 - BETA_1.powi(time));
        let second = moments.second.clone().div_scalar(1f32 - BETA_2.powi(time));
        let delta = first.div(second.sqrt().add_scalar(EPSILON));
        self.moments[group as usize] = Some(moments);
        let decay_rate = lr * self.weight_decay as f64;
        let decayed = if decay_rate == 0.0 {
            params
        } else {
            params.mul_scalar(1.0 - decay_rate)
        };
        decayed - delta.mul_scalar(lr)
    }

    /// The state as burn's AdamW record, keyed by the ids of `model`'s parameters.
    pub fn to_record(&self, model: &mut RqVae<B>) -> Record<B> {
        let mut record = Record::<B>::new();
        for group in [Group::Mlps, Group::Codebooks] {
            let Some(m) = &self.moments[group as usize] else {
                continue;
            };
            let mut offset = 0;
            for slot in slots(model, group) {
                let shape = slot.shape();
                let size: usize = shape.iter().product();
                let part = |t: &Tensor<B::InnerBackend, 1>| t.clone().slice(offset..offset + size);
                let (first, second) = (part(&m.first), part(&m.second));
                let entry = match shape[..] {
                    [rows, cols] => record_entry::<B, 2>(
                        m.time,
                        first.reshape([rows, cols]),
                        second.reshape([rows, cols]),
                    ),
                    _ => record_entry::<B, 1>(m.time, first, second),
                };
                record.insert(slot.id(), entry);
                offset += size;
            }
        }
        record
    }

    /// The state in burn's AdamW `record`, keyed by the ids of `model`'s parameters. Within a
    /// group, every parameter or none must have a state, all at the same step.
    pub fn from_record(
        weight_decay: f32,
        model: &mut RqVae<B>,
        mut record: Record<B>,
        device: &B::Device,
    ) -> Result<Self, String> {
        let mut out = Self::new(weight_decay);
        for (group, name) in [(Group::Mlps, "MLP"), (Group::Codebooks, "codebook")] {
            let mut parts = Vec::new();
            for slot in slots(model, group) {
                let Some(entry) = record.remove(&slot.id()) else {
                    parts.push(None);
                    continue;
                };
                let (time, first, second) = match slot {
                    Slot::Matrix(_) => {
                        let m = entry.into_state::<2>().momentum;
                        (m.time, m.moment_1.flatten(0, 1), m.moment_2.flatten(0, 1))
                    }
                    Slot::Vector(_) => {
                        let m = entry.into_state::<1>().momentum;
                        (m.time, m.moment_1, m.moment_2)
                    }
                };
                parts.push(Some((
                    time,
                    first.to_device(device),
                    second.to_device(device),
                )));
            }
            if parts.iter().all(Option::is_none) {
                continue;
            }
            let parts: Vec<_> = parts.into_iter().collect::<Option<_>>().ok_or_else(|| {
                format!("optimizer state: some {name} parameters have a state and others none")
            })?;
            let time = parts[0].0;
            if parts.iter().any(|p| p.0 != time) {
                return Err(format!(
                    "optimizer state: the {name} parameters were saved at different steps"
                ));
            }
            let (first, second) = parts.into_iter().map(|(_, a, b)| (a, b)).unzip();
            out.moments[group as usize] = Some(Moments {
                time,
                first: Tensor::cat(first, 0),
                second: Tensor::cat(second, 0),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RqVaeConfig;
    use crate::quantizer::Balance;
    use crate::weights::ModelWeights;
    use burn::backend::{Autodiff, NdArray};
    use burn::optim::AdamWConfig;
    use burn::tensor::Distribution;

    type Inner = NdArray<f32>;
    type B = Autodiff<Inner>;

    fn loss(model: &RqVae<B>, x: Tensor<B, 2>) -> Tensor<B, 1> {
        let out = model.forward(x.clone(), &Balance::default(), None);
        (out.reconstruction - x).powi_scalar(2).mean()
            + out.quantizer.codebook_loss
            + out.quantizer.commitment_loss
    }

    fn moments(entry: AdaptorRecord<AdamW, B>, rank: usize) -> (usize, Vec<f32>, Vec<f32>) {
        if rank == 2 {
            let m = entry.into_state::<2>().momentum;
            let v = |t: Tensor<Inner, 2>| t.into_data().iter::<f32>().collect::<Vec<f32>>();
            (m.time, v(m.moment_1), v(m.moment_2))
        } else {
            let m = entry.into_state::<1>().momentum;
            let v = |t: Tensor<Inner, 1>| t.into_data().iter::<f32>().collect::<Vec<f32>>();
            (m.time, v(m.moment_1), v(m.moment_2))
        }
    }

    type BurnAdamW = OptimizerAdaptor<AdamW, RqVae<B>, B>;

    /// One step of both optimizers on the same batch; the first leaves the codebooks out, as
    /// the autoencoder warm-up does.
    fn step_both(
        ours: &mut RqVae<B>,
        flat: &mut FlatAdamW<B>,
        theirs: RqVae<B>,
        adamw: &mut BurnAdamW,
        config: &RqVaeConfig,
        n: usize,
    ) -> RqVae<B> {
        let device = Default::default();
        let x = Tensor::<B, 2>::random([32, 16], Distribution::Normal(0.0, 1.0), &device);
        let lr = 1e-2 / (n + 1) as f64;
        let mut g = GradientsParams::from_grads(loss(ours, x.clone()).backward(), &*ours);
        let mut g2 = GradientsParams::from_grads(loss(&theirs, x).backward(), &theirs);
        flat.step(ours, &mut g, lr, Group::Mlps);
        if n == 0 {
            for c in &theirs.quantizer.codebooks {
                g2.remove::<Inner, 2>(c.id);
            }
        } else {
            flat.step(ours, &mut g, lr, Group::Codebooks);
        }
        let theirs = adamw.step(lr, theirs, g2);
        assert!(
            ModelWeights::from_model(ours, config) == ModelWeights::from_model(&theirs, config),
            "step {n}: the weights differ from burn's AdamW's"
        );
        theirs
    }

    /// Several steps give burn's AdamW's weights bit for bit; the saved state is burn's, and
    /// read back it steps on alike.
    #[test]
    fn steps_and_state_match_burns_adamw_bit_for_bit() {
        let device = Default::default();
        let config = RqVaeConfig {
            input_dim: 16,
            hidden_dims: vec![12, 8],
            latent_dim: 4,
            levels: 2,
            codebook_size: 8,
        };
        // Through host weights: a freshly built model's parameters are drawn when first read,
        // so two clones of it would draw different ones.
        let mut ours =
            ModelWeights::from_model(&config.init::<B>(&device), &config).to_model::<B>(&device);
        let mut theirs = ours.clone();
        let mut flat = FlatAdamW::<B>::new(0.01);
        let mut adamw: BurnAdamW = AdamWConfig::new().with_weight_decay(0.01).init();
        for n in 0..4 {
            theirs = step_both(&mut ours, &mut flat, theirs, &mut adamw, &config, n);
        }
        let mut record = flat.to_record(&mut ours.clone());
        let mut burns = adamw.to_record();
        assert_eq!(record.len(), burns.len(), "a parameter's state is missing");
        let mut model = ours.clone();
        for group in [Group::Mlps, Group::Codebooks] {
            for slot in slots(&mut model, group) {
                let (id, rank) = (slot.id(), slot.shape().len());
                let a = moments(record.remove(&id).expect("our state"), rank);
                let b = moments(burns.remove(&id).expect("burn's state"), rank);
                assert!(a == b, "parameter {id}: a different state from burn's");
            }
        }
        let saved = flat.to_record(&mut ours.clone());
        let mut flat = FlatAdamW::from_record(0.01, &mut ours, saved, &device)
            .expect("our own record reads back");
        step_both(&mut ours, &mut flat, theirs, &mut adamw, &config, 4);
    }
}
