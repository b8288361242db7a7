//! The browser's CPU path (`HostModel`) against the burn model it reimplements.
//!
//! `HostModel` does the same float operations in the same order on every target (see
//! `src/lanes.rs`), so what these native tests establish holds for the wasm module; the Node and
//! Chromium tests check that separately against `rqvae-train encode`.

use crate::data::{default_model, sample, sample_rows};
use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::inference::{decode_ids, encode_ids};
use rqvae::{Embeddings, HostModel, ModelWeights, RqVaeConfig};

type B = NdArray<f32>;

fn burn_ids(w: &ModelWeights, x: &Embeddings) -> Vec<u32> {
    let device = Default::default();
    encode_ids(&w.to_model::<B>(&device), x, 512, &device)
}

#[test]
fn default_model_ids_match_burn_on_the_whole_sample() {
    let w = default_model();
    let x = sample();
    let host = HostModel::new(&w).unwrap().encode(x.as_slice(), x.rows());
    let burn = burn_ids(&w, &x);
    let differing: Vec<usize> = (0..x.rows())
        .filter(|&r| host[r * 3..r * 3 + 3] != burn[r * 3..r * 3 + 3])
        .collect();
    assert!(
        differing.is_empty(),
        "rows with different IDs: {differing:?}"
    );
    // Not a degenerate model: the sample uses many first-level codes.
    let mut firsts: Vec<u32> = host.iter().step_by(3).copied().collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert!(
        firsts.len() > 100,
        "only {} first-level codes",
        firsts.len()
    );
}

#[test]
fn default_model_reconstructions_match_burn() {
    let w = default_model();
    let x = sample_rows(2000);
    let host = HostModel::new(&w).unwrap();
    let ids = host.encode(x.as_slice(), x.rows());
    let ours = host.decode(&ids).expect("the default model has a decoder");
    let device = Default::default();
    let theirs = decode_ids(&w.to_model::<B>(&device), &ids, 3, 512, &device).unwrap();
    let worst = crate::common::max_abs_diff(&ours, &theirs);
    assert!(worst < 1e-5, "largest difference {worst}");
}

/// Widths that are not multiples of the kernel's 8 columns, row counts that are not multiples
/// of its 4 rows or of the 64-row blocks, and codebooks close enough that IDs vary.
#[test]
fn odd_shapes_match_burn() {
    let config = RqVaeConfig {
        input_dim: 13,
        hidden_dims: vec![10, 7],
        latent_dim: 5,
        levels: 2,
        codebook_size: 9,
    };
    let device = Default::default();
    <B as Backend>::seed(&device, 3);
    let mut w = ModelWeights::from_model(&config.init::<B>(&device), &config);
    let mut rng = StdRng::seed_from_u64(11);
    for book in &mut w.codebooks {
        book.iter_mut()
            .for_each(|v| *v = rng.random::<f32>() * 2.0 - 1.0);
    }
    let host = HostModel::new(&w).unwrap();
    for rows in [1, 3, 4, 5, 63, 64, 65, 131] {
        let values: Vec<f32> = (0..rows * 13)
            .map(|_| rng.random::<f32>() * 4.0 - 2.0)
            .collect();
        let x = Embeddings::new(values, 13).unwrap();
        let ids = host.encode(x.as_slice(), rows);
        assert_eq!(ids, burn_ids(&w, &x), "{rows} rows");
        let recon = host.decode(&ids).unwrap();
        let theirs = decode_ids(&w.to_model::<B>(&device), &ids, 2, 64, &device).unwrap();
        let worst = crate::common::max_abs_diff(&recon, &theirs);
        assert!(worst < 1e-5, "{rows} rows: largest difference {worst}");
    }
}

#[test]
fn ids_do_not_depend_on_how_rows_are_batched() {
    let w = default_model();
    let x = sample_rows(2000);
    let host = HostModel::new(&w).unwrap();
    let whole = host.encode(x.as_slice(), x.rows());
    let mut pieces = Vec::new();
    for (start, end) in [(0, 1), (1, 7), (7, 70), (70, 2000)] {
        pieces.extend(host.encode(x.slice_rows(start, end), end - start));
    }
    assert_eq!(whole, pieces);
}

#[test]
fn without_a_decoder_decode_is_none() {
    let host = HostModel::new(&default_model().without_decoder()).unwrap();
    assert!(!host.has_decoder());
    assert_eq!(host.decode(&[0, 0, 0]), None);
}

#[test]
fn weights_that_disagree_with_their_config_are_an_error_not_a_panic() {
    let mut w = default_model();
    w.encoder[1].bias.pop();
    let err = HostModel::new(&w).unwrap_err().to_string();
    assert!(err.contains("encoder.layers.1.bias"), "{err}");
}

#[test]
fn the_fused_fast_path_gives_the_canonical_ids_by_re_deciding_near_ties() {
    // Natively the fast path sums with f32::mul_add (one rounding), as the relaxed-SIMD module
    // does with f32x4.relaxed_madd, so its scores differ from the canonical ones in the last bits.
    const { assert!(HostModel::FUSED) };
    let host = HostModel::new(&default_model()).unwrap();
    let x = sample_rows(2000);
    let canonical = host.encode(x.as_slice(), x.rows());
    let (fast, redecided) = host.encode_fast(x.as_slice(), x.rows());
    assert_eq!(fast, canonical);
    // Near-ties exist on real data (about 2 % of rows): the margin check must have caught some,
    // and only a small share.
    assert!(
        redecided > 0 && redecided < x.rows() / 10,
        "{redecided} of {} rows re-decided",
        x.rows()
    );
    // Any batching gives the same IDs.
    let (first, _) = host.encode_fast(x.slice_rows(0, 777), 777);
    let (rest, _) = host.encode_fast(x.slice_rows(777, x.rows()), x.rows() - 777);
    assert_eq!([first, rest].concat(), canonical);
}
