//! The safetensors weights format: lossless F32 round trips, F16 rounding, the decoder-less export
//! and one specific error for every kind of bad file.

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use half::f16;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::inference::{decode_ids, encode_ids};
use rqvae::{Embeddings, ModelWeights, Precision, RqVaeConfig, WeightsError};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

type B = NdArray<f32>;

fn config() -> RqVaeConfig {
    RqVaeConfig {
        input_dim: 16,
        hidden_dims: vec![12, 8],
        latent_dim: 4,
        levels: 3,
        codebook_size: 8,
    }
}

/// Weights of a freshly initialised model, with codebooks spread out enough that IDs vary.
fn weights() -> ModelWeights {
    let device = Default::default();
    let config = config();
    <B as Backend>::seed(&device, 1);
    let model = config.init::<B>(&device);
    let mut w = ModelWeights::from_model(&model, &config);
    let mut rng = StdRng::seed_from_u64(5);
    for (level, book) in w.codebooks.iter_mut().enumerate() {
        let scale = 0.5f32.powi(level as i32);
        for v in book.iter_mut() {
            *v = (rng.random::<f32>() * 2.0 - 1.0) * scale;
        }
    }
    w
}

fn inputs(rows: usize) -> Embeddings {
    let mut rng = StdRng::seed_from_u64(9);
    let data = (0..rows * 16)
        .map(|_| rng.random::<f32>() * 4.0 - 2.0)
        .collect();
    Embeddings::new(data, 16).unwrap()
}

fn err(bytes: &[u8]) -> WeightsError {
    match ModelWeights::from_bytes(bytes) {
        Ok(_) => panic!("expected an error, the bytes loaded"),
        Err(e) => e,
    }
}

/// A tensor as owned parts, for rebuilding files.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn entries(bytes: &[u8]) -> (Option<HashMap<String, String>>, Vec<Entry>) {
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let st = SafeTensors::deserialize(bytes).unwrap();
    let list = st
        .tensors()
        .into_iter()
        .map(|(name, view)| Entry {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    (meta.metadata().clone(), list)
}

fn rebuild(meta: Option<HashMap<String, String>>, list: &[Entry]) -> Vec<u8> {
    let views = list.iter().map(|e| {
        (
            e.name.clone(),
            TensorView::new(e.dtype, e.shape.clone(), &e.data).unwrap(),
        )
    });
    safetensors::serialize(views, meta).unwrap()
}

/// Valid F32 bytes, edited by `edit`.
fn edited(edit: impl FnOnce(&mut HashMap<String, String>, &mut Vec<Entry>)) -> Vec<u8> {
    let bytes = weights().to_bytes(Precision::F32).unwrap();
    let (meta, mut list) = entries(&bytes);
    let mut meta = meta.expect("rqvae files carry metadata");
    edit(&mut meta, &mut list);
    rebuild(Some(meta), &list)
}

#[test]
fn f32_round_trip_is_lossless() {
    let device = Default::default();
    let w = weights();
    let bytes = w.to_bytes(Precision::F32).unwrap();
    let loaded = ModelWeights::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, w, "weights changed in the round trip");
    assert_eq!(loaded.config, config());

    let original = w.to_model::<B>(&device);
    let restored = loaded.to_model::<B>(&device);
    assert_eq!(ModelWeights::from_model(&restored, &config()), w);
    let x = inputs(200);
    let ids_a = encode_ids(&original, &x, 64, &device);
    let ids_b = encode_ids(&restored, &x, 64, &device);
    assert_eq!(ids_a.len(), 200 * 3);
    assert!(ids_a.iter().all(|&id| id < 8));
    assert_eq!(ids_a, ids_b);
    // The test inputs exercise more than one code per level.
    for level in 0..3 {
        let first = ids_a[level];
        assert!(
            ids_a.chunks_exact(3).any(|row| row[level] != first),
            "level {level} assigns one code to every input"
        );
    }
    // And the decoder came along: identical reconstructions.
    let ra = decode_ids(&original, &ids_a, 3, 64, &device).unwrap();
    let rb = decode_ids(&restored, &ids_a, 3, 64, &device).unwrap();
    assert_eq!(ra, rb);
}

/// The same weights always give the same bytes, so a resumed run's file can be compared with an
/// uninterrupted one's. (The metadata map's iteration order varies from map to map.)
#[test]
fn serialisation_is_byte_stable() {
    let w = weights();
    let first = w.to_bytes(Precision::F32).unwrap();
    for _ in 0..32 {
        assert!(w.to_bytes(Precision::F32).unwrap() == first, "bytes vary");
    }
    assert!(ModelWeights::from_bytes(&first).unwrap() == w);
    let header_len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&first[8..8 + header_len]).unwrap();
    let (config, format) = (
        header.find("\"config\"").unwrap(),
        header.find("\"format\"").unwrap(),
    );
    assert!(config < format, "metadata keys sorted: {header}");
}

#[test]
fn f16_round_trip_rounds_to_half_precision() {
    let w = weights();
    let bytes16 = w.to_bytes(Precision::F16).unwrap();
    let bytes32 = w.to_bytes(Precision::F32).unwrap();
    assert!(bytes16.len() < bytes32.len());
    let (_, list) = entries(&bytes16);
    assert!(list.iter().all(|e| e.dtype == Dtype::F16));

    let loaded = ModelWeights::from_bytes(&bytes16).unwrap();
    assert_eq!(loaded.config, w.config);
    let check = |name: &str, got: &[f32], want: &[f32]| {
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (&g, &x)) in got.iter().zip(want).enumerate() {
            // Exactly the f16 rounding of the original, hence within half an f16 ulp.
            assert_eq!(g, f16::from_f32(x).to_f32(), "{name}[{i}]");
            assert!(
                (g - x).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{name}[{i}]: {g} vs {x}"
            );
        }
    };
    let layers = |w: &ModelWeights| {
        let mut all = w.encoder.clone();
        all.extend(w.decoder.clone().unwrap());
        all
    };
    assert_eq!(layers(&loaded).len(), layers(&w).len(), "layer count");
    assert_eq!(loaded.codebooks.len(), w.codebooks.len(), "level count");
    for (i, (a, b)) in layers(&loaded).iter().zip(layers(&w)).enumerate() {
        check(&format!("layer {i} weight"), &a.weight, &b.weight);
        check(&format!("layer {i} bias"), &a.bias, &b.bias);
    }
    for (l, (a, b)) in loaded.codebooks.iter().zip(&w.codebooks).enumerate() {
        check(&format!("codebook {l}"), a, b);
    }
}

#[test]
fn without_decoder_round_trips() {
    let device = Default::default();
    let w = weights();
    let bytes = w
        .clone()
        .without_decoder()
        .to_bytes(Precision::F32)
        .unwrap();
    assert!(bytes.len() < w.to_bytes(Precision::F32).unwrap().len());
    let loaded = ModelWeights::from_bytes(&bytes).unwrap();
    assert!(loaded.decoder.is_none());
    assert_eq!(loaded.encoder, w.encoder);
    assert_eq!(loaded.codebooks, w.codebooks);

    let model = loaded.to_model::<B>(&device);
    assert!(model.decoder.is_none());
    let x = inputs(50);
    let ids = encode_ids(&model, &x, 16, &device);
    assert_eq!(ids, encode_ids(&w.to_model::<B>(&device), &x, 16, &device));
    assert!(decode_ids(&model, &ids, 3, 16, &device).is_none());
    let result = rqvae::inference::evaluate_model(
        &model,
        &config(),
        &x,
        rqvae::EvalOptions::default(),
        &device,
    );
    assert!(matches!(result, Err(WeightsError::NoDecoder)));
}

#[test]
fn wrong_shape_names_the_tensor() {
    // encoder.layers.1.weight is [12, 8]; store the same bytes as [8, 12].
    let bytes = edited(|_, list| {
        let e = list
            .iter_mut()
            .find(|e| e.name == "encoder.layers.1.weight")
            .unwrap();
        assert_eq!(e.shape, [12, 8]);
        e.shape = vec![8, 12];
    });
    let e = err(&bytes);
    match &e {
        WeightsError::Shape {
            name,
            expected,
            found,
        } => {
            assert_eq!(name, "encoder.layers.1.weight");
            assert_eq!(expected, &[12, 8]);
            assert_eq!(found, &[8, 12]);
        }
        other => panic!("expected Shape, got {other:?}"),
    }
    assert!(e.to_string().contains("encoder.layers.1.weight"), "{e}");
}

#[test]
fn config_disagreeing_with_tensors() {
    // Weights extracted for latent_dim 4, then the config says 5. Serialising refuses: the
    // tensors do not fit the shapes the config describes.
    let mut w = weights();
    w.config.latent_dim = 5;
    match w.to_bytes(Precision::F32) {
        Err(e @ WeightsError::Shape { .. }) => {
            assert!(e.to_string().contains("encoder.layers.2.weight"), "{e}")
        }
        other => panic!("inconsistent weights serialised: {other:?}"),
    }

    // A file whose metadata says latent_dim 5 while its tensors are for 4: loading names the
    // first tensor that does not fit.
    let bytes = edited(|meta, _| {
        let mut c = config();
        c.latent_dim = 5;
        meta.insert("config".into(), c.to_json());
    });
    match err(&bytes) {
        WeightsError::Shape {
            name,
            expected,
            found,
        } => {
            assert_eq!(name, "encoder.layers.2.weight");
            assert_eq!(expected, [8, 5]);
            assert_eq!(found, [8, 4]);
        }
        other => panic!("expected Shape, got {other:?}"),
    }
}

#[test]
fn missing_tensor() {
    for missing in ["quantizer.codebooks.2", "decoder.layers.0.bias"] {
        let bytes = edited(|_, list| list.retain(|e| e.name != missing));
        let e = err(&bytes);
        assert!(
            matches!(&e, WeightsError::MissingTensor(n) if n == missing),
            "{missing}: {e:?}"
        );
        assert!(e.to_string().contains(missing));
    }
}

#[test]
fn unexpected_tensor() {
    let bytes = edited(|_, list| {
        list.push(Entry {
            name: "quantizer.codebooks.3".into(),
            dtype: Dtype::F32,
            shape: vec![8, 4],
            data: vec![0; 8 * 4 * 4],
        })
    });
    let e = err(&bytes);
    assert!(
        matches!(&e, WeightsError::Unexpected(n) if n == "quantizer.codebooks.3"),
        "{e:?}"
    );
}

#[test]
fn non_finite_and_wrong_dtype() {
    let bytes = edited(|_, list| {
        let e = list
            .iter_mut()
            .find(|e| e.name == "quantizer.codebooks.1")
            .unwrap();
        e.data[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let e = err(&bytes);
    assert!(
        matches!(&e, WeightsError::NonFinite(n) if n == "quantizer.codebooks.1"),
        "{e:?}"
    );

    let bytes = edited(|_, list| {
        let e = list
            .iter_mut()
            .find(|e| e.name == "encoder.layers.0.bias")
            .unwrap();
        e.dtype = Dtype::F64;
        let widened: Vec<u8> = e
            .data
            .chunks_exact(4)
            .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).to_le_bytes())
            .collect();
        e.data = widened;
    });
    let e = err(&bytes);
    assert!(
        matches!(&e, WeightsError::Dtype { name, .. } if name == "encoder.layers.0.bias"),
        "{e:?}"
    );
}

#[test]
fn not_safetensors() {
    for bytes in [
        &b""[..],
        b"hello",
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }",
    ] {
        let e = err(bytes);
        assert!(matches!(e, WeightsError::NotSafetensors(_)), "{e:?}");
        assert!(e.to_string().contains("not a safetensors file"));
    }
}

#[test]
fn safetensors_without_rqvae_metadata() {
    let data = vec![0u8; 4 * 4];
    let view = TensorView::new(Dtype::F32, vec![2, 2], &data).unwrap();
    let plain = safetensors::serialize([("weight", view.clone())], None).unwrap();
    let e = err(&plain);
    assert!(matches!(e, WeightsError::NotRqvae(None)), "{e:?}");

    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let other = safetensors::serialize([("weight", view)], Some(meta)).unwrap();
    let e = err(&other);
    assert!(
        matches!(&e, WeightsError::NotRqvae(Some(f)) if f == "pt"),
        "{e:?}"
    );
    assert!(e.to_string().contains("pt"));
}

#[test]
fn bad_metadata() {
    // A version from the future, and versions spelled otherwise than this build writes them.
    for version in ["3", "01", "2.0", ""] {
        let bytes = edited(|meta, _| {
            meta.insert("format_version".into(), version.into());
        });
        assert!(
            matches!(err(&bytes), WeightsError::Version { ref found } if found == version),
            "{version:?}: {}",
            err(&bytes)
        );
    }

    let bytes = edited(|meta, _| {
        meta.remove("config");
    });
    assert!(matches!(err(&bytes), WeightsError::MissingConfig));

    let bytes = edited(|meta, _| {
        meta.insert("config".into(), "{\"levels\": 0}".into());
    });
    let e = err(&bytes);
    assert!(matches!(e, WeightsError::Config(_)), "{e:?}");
}

#[test]
fn truncated_file() {
    let bytes = weights().to_bytes(Precision::F32).unwrap();
    for len in [bytes.len() - 1, bytes.len() - 100, bytes.len() / 2, 20, 4] {
        let e = err(&bytes[..len]);
        assert!(
            matches!(e, WeightsError::NotSafetensors(_)),
            "truncated to {len}: {e:?}"
        );
    }
    // Still loads untruncated.
    ModelWeights::from_bytes(&bytes).unwrap();
}
