//! Models with an input transform (format version 2): what the file holds, that every path
//! applies the transform the same way, that a bad transform is refused by name, and that
//! training picks it for anisotropic data, keeps it across runs and keeps the neighbours.

use crate::data::{default_model, sample_rows, shifted_embeddings};
use burn::backend::Autodiff;
use burn::backend::NdArray;
use rqvae::ids::canonical::encode_on_backend;
use rqvae::ids::fingerprint::model_fingerprint;
use rqvae::inference::{decode_ids, encode_ids, evaluate_model};
use rqvae::input_transform::{InputTransform, InputTransformChoice, InputTransformError};
use rqvae::train::{BurnEngine, CpuDevice, CpuEngine, Engine, TrainConfig, TrainError, Trainer};
use rqvae::{
    Embeddings, EvalOptions, HostModel, Metrics, ModelWeights, Precision, RqVaeConfig, WeightsError,
};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

type B = NdArray<f32>;

/// The default model, given the transform fitted to the shifted sample: a model whose encoder
/// sees the shifted rows centred.
fn centred_model(x: &Embeddings) -> ModelWeights {
    ModelWeights {
        input: Some(InputTransform::fit(x.as_slice(), x.dim()).unwrap()),
        ..default_model()
    }
}

fn metadata(bytes: &[u8]) -> HashMap<String, String> {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    header.metadata().clone().unwrap()
}

/// `bytes` rebuilt with its metadata and tensors edited.
fn edited(
    bytes: &[u8],
    edit: impl FnOnce(&mut HashMap<String, String>, &mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut meta = metadata(bytes);
    let mut list: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut meta, &mut list);
    let views = list
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn refusal(bytes: &[u8]) -> WeightsError {
    match ModelWeights::from_bytes(bytes) {
        Ok(_) => panic!("expected the bytes to be refused"),
        Err(e) => e,
    }
}

#[test]
fn a_model_with_an_input_transform_is_format_version_2_and_keeps_it_in_f32() {
    let x = shifted_embeddings(&sample_rows(500));
    let w = centred_model(&x);
    let f32_bytes = w.to_bytes(Precision::F32).unwrap();
    assert_eq!(metadata(&f32_bytes)["format_version"], "2");
    assert_eq!(ModelWeights::from_bytes(&f32_bytes).unwrap(), w);

    // In an F16 file the network is rounded and the transform is not.
    let f16_bytes = w.to_bytes(Precision::F16).unwrap();
    let st = SafeTensors::deserialize(&f16_bytes).unwrap();
    for (name, view) in st.tensors() {
        let expected = if name.starts_with("input.") {
            Dtype::F32
        } else {
            Dtype::F16
        };
        assert_eq!(view.dtype(), expected, "{name}");
    }
    let loaded = ModelWeights::from_bytes(&f16_bytes).unwrap();
    assert_eq!(loaded.input, w.input);
    let card = rqvae::model_card::ModelCard::from_bytes(&f16_bytes)
        .unwrap()
        .0;
    assert_eq!(card.precision, rqvae::model_card::StoredPrecision::F16);
    let described = card.input_transform.expect("the card names the transform");
    assert_eq!(
        (described.kind.as_str(), described.scale),
        ("center", w.input.as_ref().unwrap().scale)
    );

    // Without a transform, the file is version 1 as before, and its card says nothing of one.
    let plain = default_model().to_bytes(Precision::F16).unwrap();
    assert_eq!(metadata(&plain)["format_version"], "1");
    assert!(!SafeTensors::deserialize(&plain)
        .unwrap()
        .names()
        .iter()
        .any(|n| n.starts_with("input.")));
    let card = rqvae::model_card::ModelCard::from_bytes(&plain).unwrap().0;
    assert!(card.input_transform.is_none());
    assert!(!card.to_json().contains("input_transform"));
}

#[test]
fn the_fingerprint_covers_the_transform_and_a_model_without_one_keeps_its_own() {
    let x = shifted_embeddings(&sample_rows(500));
    let plain = default_model();
    let centred = centred_model(&x);
    let rescaled = ModelWeights {
        input: centred.input.clone().map(|t| InputTransform {
            scale: t.scale * 1.5,
            ..t
        }),
        ..default_model()
    };
    let prints = [&plain, &centred, &rescaled].map(model_fingerprint);
    assert_ne!(prints[0], prints[1]);
    assert_ne!(prints[1], prints[2]);
    // The default model's fingerprint, as computed before input transforms existed: tables it
    // made stay its own.
    assert_eq!(
        prints[0],
        "sha256:3363563d08ef89d7cd061ea4cc0f545e5df8a64f8740cb3e57584088c5aa1e7b"
    );
}

#[test]
fn every_path_applies_the_transform_before_the_encoder_and_undoes_it_after_the_decoder() {
    let x = shifted_embeddings(&sample_rows(1000));
    let w = centred_model(&x);
    let t = w.input.clone().unwrap();
    let host = HostModel::new(&w).unwrap();
    let canonical = host.encode(x.as_slice(), x.rows());

    // The same network without the transform, given the rows transformed by hand.
    let bare = HostModel::new(&ModelWeights {
        input: None,
        ..w.clone()
    })
    .unwrap();
    let by_hand = Embeddings::new(t.apply(x.as_slice()), x.dim()).unwrap();
    assert_eq!(canonical, bare.encode(by_hand.as_slice(), by_hand.rows()));
    assert_eq!(
        host.latents(x.as_slice(), x.rows()),
        bare.latents(by_hand.as_slice(), by_hand.rows())
    );
    let (fast, _) = host.encode_fast(x.as_slice(), x.rows());
    assert_eq!(fast, canonical);

    // burn's backend under the contract, and burn's IDs on their own.
    let device = Default::default();
    let model = w.to_model::<B>(&device);
    let checked = encode_on_backend(&model, &host, &x, 256, &device);
    assert_eq!(checked.ids, canonical);
    let raw = encode_ids(&model, &x, 256, &device);
    let differing = raw
        .chunks_exact(3)
        .zip(canonical.chunks_exact(3))
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        differing <= checked.redecided.len(),
        "{differing} rows differ"
    );
    // The IDs follow the transform: the plain default model gives the shifted rows other IDs.
    let untransformed = HostModel::new(&default_model()).unwrap();
    assert_ne!(untransformed.encode(x.as_slice(), x.rows()), canonical);

    // Decoding lands back in the inputs' space, on both paths.
    let recon_host = host.decode(&canonical).unwrap();
    let mut recon_bare = bare.decode(&canonical).unwrap();
    t.invert_in_place(&mut recon_bare);
    assert_eq!(recon_host, recon_bare);
    let recon_burn = decode_ids(&model, &canonical, 3, 256, &device).unwrap();
    let worst = recon_host
        .iter()
        .zip(&recon_burn)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 1e-4,
        "host and burn reconstructions differ by {worst}"
    );
    let mean_row_cosine = recon_host
        .chunks_exact(x.dim())
        .zip(x.as_slice().chunks_exact(x.dim()))
        .map(|(r, v)| {
            let dot: f32 = r.iter().zip(v).map(|(a, b)| a * b).sum();
            dot / (r.iter().map(|a| a * a).sum::<f32>().sqrt())
        })
        .sum::<f32>()
        / x.rows() as f32;
    // The shifted rows share one direction; reconstructions in their space share it too.
    assert!(mean_row_cosine > 0.8, "{mean_row_cosine}");
}

#[test]
fn a_bad_or_missing_transform_is_refused_by_name() {
    let x = shifted_embeddings(&sample_rows(200));
    let good = centred_model(&x).to_bytes(Precision::F32).unwrap();
    let plain = default_model().to_bytes(Precision::F32).unwrap();

    let no_mean = edited(&good, |_, list| list.retain(|e| e.0 != "input.mean"));
    assert!(
        matches!(refusal(&no_mean), WeightsError::MissingTensor(ref n) if n == "input.mean"),
        "{}",
        refusal(&no_mean)
    );
    // A version-1 file with transform tensors would be read without them: refused instead.
    let v1_with_input = edited(&good, |meta, _| {
        meta.insert("format_version".into(), "1".into());
    });
    assert!(
        matches!(refusal(&v1_with_input), WeightsError::Unexpected(ref n) if n.starts_with("input.")),
        "{}",
        refusal(&v1_with_input)
    );
    let v2_without = edited(&plain, |meta, _| {
        meta.insert("format_version".into(), "2".into());
    });
    assert!(
        matches!(refusal(&v2_without), WeightsError::MissingTensor(ref n) if n == "input.mean")
    );
    let scale = |value: f32| {
        edited(&good, |_, list| {
            let entry = list.iter_mut().find(|e| e.0 == "input.scale").unwrap();
            entry.3 = value.to_le_bytes().to_vec();
        })
    };
    let zero = refusal(&scale(0.0));
    assert!(
        matches!(
            zero,
            WeightsError::InputTransform(InputTransformError::Scale(_))
        ),
        "{zero}"
    );
    assert!(zero.to_string().contains("scale 0"), "{zero}");
    assert!(
        matches!(refusal(&scale(f32::NAN)), WeightsError::NonFinite(ref n) if n == "input.scale")
    );
    let short_mean = edited(&good, |_, list| {
        let entry = list.iter_mut().find(|e| e.0 == "input.mean").unwrap();
        entry.2 = vec![767];
        entry.3.truncate(767 * 4);
    });
    assert!(
        matches!(refusal(&short_mean), WeightsError::Shape { ref name, .. } if name == "input.mean")
    );
    let future = edited(&good, |meta, _| {
        meta.insert("format_version".into(), "3".into());
    });
    let e = refusal(&future);
    assert!(e.to_string().contains("version 3"), "{e}");
    assert!(e.to_string().contains("versions 1 to 2"), "{e}");
    // Weights built by hand with a transform of the wrong size are refused before packing.
    let mut wrong = centred_model(&x);
    wrong.input.as_mut().unwrap().mean.pop();
    assert!(matches!(
        HostModel::new(&wrong),
        Err(WeightsError::InputTransform(InputTransformError::Dim {
            expected: 768,
            found: 767
        }))
    ));
}

/// Epochs of the short runs: on 2,000 rows, enough for the neighbour terms to settle.
const EPOCHS: usize = 150;

/// A short run of the default model's first-stage recipe on `data`, and its metrics there.
fn short_run(data: &Embeddings, choice: InputTransformChoice) -> (ModelWeights, Metrics) {
    let train = TrainConfig {
        input_transform: choice,
        ..TrainConfig::semantic_ids(EPOCHS)
    };
    let config = RqVaeConfig::with_input_dim(data.dim());
    let mut trainer = Trainer::<CpuEngine>::new(config.clone(), train, data, &CpuDevice).unwrap();
    while trainer.epochs_done < trainer.train.epochs {
        trainer.run_epoch();
    }
    let weights = trainer.weights();
    let device = Default::default();
    let options = EvalOptions {
        queries: Some(1000),
        ..Default::default()
    };
    let (metrics, _) = evaluate_model(
        &weights.to_model::<B>(&device),
        &config,
        data,
        options,
        &device,
    )
    .unwrap();
    (weights, metrics)
}

#[test]
fn training_centres_anisotropic_inputs_and_keeps_their_neighbours() {
    let plain = sample_rows(2000);
    let moved = shifted_embeddings(&plain);
    let (plain_model, on_plain) = short_run(&plain, InputTransformChoice::Auto);
    let (moved_model, on_moved) = short_run(&moved, InputTransformChoice::Auto);
    let (_, kept_as_is) = short_run(&moved, InputTransformChoice::None);
    eprintln!(
        "plain:\n{}shifted, centred:\n{}shifted, as is:\n{}",
        on_plain.table(),
        on_moved.table(),
        kept_as_is.table()
    );
    // `auto` leaves the isotropic sample alone and centres its shifted copy.
    assert!(plain_model.input.is_none());
    let t = moved_model
        .input
        .as_ref()
        .expect("the shifted rows are centred");
    assert!(on_moved.anisotropy.mean_pair_cosine > 0.8);
    // The centred model keeps what the plain one gets: neighbours are measured in each run's
    // own input space, the shifted rows' for the centred model.
    let ratio = |a: f64, b: f64| a / b;
    let nn = ratio(on_moved.nn_overlap_at_5, on_plain.nn_overlap_at_5);
    let prefix = ratio(on_moved.prefix1_nn, on_plain.prefix1_nn);
    assert!(
        nn >= 0.9 && prefix >= 0.9,
        "NN overlap {nn:.3}, prefix-1 {prefix:.3} of the plain run's"
    );
    assert!(
        kept_as_is.nn_overlap_at_5 < on_moved.nn_overlap_at_5,
        "as is {:.3}, centred {:.3}",
        kept_as_is.nn_overlap_at_5,
        on_moved.nn_overlap_at_5
    );
    // The report says the model centres its inputs, and warns only of the model that does not.
    assert!(on_moved.input_centred && !kept_as_is.input_centred);
    assert!(on_moved.table().contains("(the model centres them)"));
    assert!(on_moved.warnings().is_empty(), "{:?}", on_moved.warnings());
    let warned = kept_as_is.warnings();
    assert!(
        warned.iter().any(|w| w.contains("--input-transform auto")),
        "{warned:?}"
    );
    // Reconstructions are scored in the inputs' space: the transform is undone.
    assert!(on_moved.cosine_mean > 0.9, "{}", on_moved.cosine_mean);
    assert!(
        t.scale > 1.0,
        "the shifted rows' spread is under 1: {}",
        t.scale
    );
}

/// A model small enough for runs of a few steps.
fn small_config() -> RqVaeConfig {
    RqVaeConfig {
        hidden_dims: vec![64],
        latent_dim: 8,
        levels: 2,
        codebook_size: 16,
        ..RqVaeConfig::with_input_dim(768)
    }
}

#[test]
fn a_run_from_a_model_keeps_its_transform_and_refuses_to_drop_it() {
    let moved = shifted_embeddings(&sample_rows(1000));
    let config = small_config();
    let train = TrainConfig {
        epochs: 2,
        batch_size: 250,
        input_transform: InputTransformChoice::Center,
        ..Default::default()
    };
    let mut first = Trainer::<CpuEngine>::new(config, train.clone(), &moved, &CpuDevice).unwrap();
    first.run_epoch();
    let dir = crate::common::unique_temp_path("keep-transform");
    first.save_checkpoint(&dir).unwrap();
    let weights = first.weights();
    let input = weights.input.clone().expect("asked for");

    // Resumed on either engine, the run keeps its transform.
    let resumed = Trainer::<CpuEngine>::resume(&dir, train.clone(), &moved, &CpuDevice).unwrap();
    assert_eq!(resumed.weights().input.as_ref(), Some(&input));
    assert_eq!(resumed.weights(), weights);
    type AD = BurnEngine<Autodiff<B>>;
    let on_burn = Trainer::<AD>::resume(&dir, train.clone(), &moved, &Default::default()).unwrap();
    assert_eq!(on_burn.inference_model().input.as_ref(), Some(&input));
    // The engines train the network on the centred rows: burn's latents of the resumed model are
    // the host model's of the raw rows.
    let host = HostModel::new(&weights).unwrap();
    let rows: Vec<usize> = (0..20).collect();
    let burn_latents = on_burn.engine.latents(&rows);
    let host_latents = host.latents(&moved.gather(&rows), rows.len());
    assert!(crate::common::max_abs_diff(&burn_latents, &host_latents) < 1e-4);

    // Fine-tuning keeps it; `auto` and `center` agree with the model, `none` is refused, and a
    // plain model is not centred on request either.
    let tune = |weights: &ModelWeights, choice| {
        let recipe = TrainConfig {
            epochs: 1,
            batch_size: 250,
            input_transform: choice,
            ..Default::default()
        };
        Trainer::<CpuEngine>::fine_tune(weights, recipe, &moved, &CpuDevice)
    };
    for choice in [InputTransformChoice::Auto, InputTransformChoice::Center] {
        let tuned = tune(&weights, choice).unwrap();
        assert_eq!(tuned.weights().input.as_ref(), Some(&input));
    }
    let e = tune(&weights, InputTransformChoice::None)
        .err()
        .expect("refused");
    assert!(matches!(e, TrainError::FineTune(_)), "{e}");
    assert!(e.to_string().contains("input_transform \"none\""), "{e}");
    let plain = ModelWeights {
        input: None,
        ..weights.clone()
    };
    let e = tune(&plain, InputTransformChoice::Center)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("has none"), "{e}");

    // Rows that do not spread at all cannot be centred: said, not divided by zero.
    let flat = Embeddings::new(vec![0.25; 768 * 300], 768).unwrap();
    let e = Trainer::<CpuEngine>::new(
        small_config(),
        TrainConfig {
            batch_size: 100,
            ..Default::default()
        },
        &flat,
        &CpuDevice,
    )
    .err()
    .expect("refused");
    assert!(e.to_string().contains("no spread"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
