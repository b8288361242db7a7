//! The cross-backend contract on constructed near-ties: rows whose best two codes (nearly or
//! exactly) tie get the canonical ID on burn's backend, whatever its own rounding says.

use crate::data::{default_model, sample_rows};
use burn::backend::NdArray;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::ids::canonical::{encode_on_backend, is_near_tie, TIE_MARGIN};
use rqvae::{Embeddings, HostModel, ModelWeights};

type B = NdArray<f32>;

/// Puts codes `2i` and `2i + 1` of `level` at `target ± v`: equidistant from `target` in exact
/// arithmetic, so only rounding decides between them.
fn plant_pair(w: &mut ModelWeights, level: usize, pair: usize, target: &[f32], rng: &mut StdRng) {
    let dim = target.len();
    let norm = target.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-3);
    let v: Vec<f32> = (0..dim)
        .map(|_| rng.random_range(-1.0f32..1.0) * 1e-3 * norm)
        .collect();
    let book = &mut w.codebooks[level];
    for (j, sign) in [(2 * pair, 1.0f32), (2 * pair + 1, -1.0)] {
        for d in 0..dim {
            book[j * dim + d] = target[d] + sign * v[d];
        }
    }
}

/// The default model with near-ties planted at level 0 for rows 0..16, at level 2 for rows
/// 16..32, and an exact tie (a duplicated code) at level 1.
fn near_tie_model(x: &Embeddings) -> (ModelWeights, Vec<usize>) {
    let mut w = default_model();
    let mut rng = StdRng::seed_from_u64(7);
    let dim = w.config.latent_dim;
    let host = HostModel::new(&w).unwrap();
    let z = host.latents(x.as_slice(), x.rows());
    for i in 0..16 {
        plant_pair(&mut w, 0, i, &z[i * dim..(i + 1) * dim], &mut rng);
    }
    // Level-2 ties need the canonical residual after levels 0 and 1 of the planted model.
    let planted = HostModel::new(&w).unwrap();
    let ids = planted.encode(x.as_slice(), x.rows());
    for (pair, row) in (16..32).enumerate() {
        let mut r = z[row * dim..(row + 1) * dim].to_vec();
        for level in 0..2 {
            let c = ids[row * 3 + level] as usize;
            let code = &w.codebooks[level][c * dim..(c + 1) * dim];
            r.iter_mut().zip(code).for_each(|(v, c)| *v -= c);
        }
        plant_pair(&mut w, 2, 100 + pair, &r, &mut rng);
    }
    // Exact tie: a copy of row 40's level-1 code, placed after it, wins as often as the original.
    let c = ids[40 * 3 + 1] as usize;
    let copy_at = if c < 255 { 255 } else { 254 };
    let code = w.codebooks[1][c * dim..(c + 1) * dim].to_vec();
    w.codebooks[1][copy_at * dim..(copy_at + 1) * dim].copy_from_slice(&code);
    let tied_rows: Vec<usize> = (0..32).chain([40]).collect();
    (w, tied_rows)
}

#[test]
fn burn_ids_equal_canonical_ids_on_constructed_near_ties() {
    let x = sample_rows(64);
    let (w, tied_rows) = near_tie_model(&x);
    let host = HostModel::new(&w).unwrap();
    let canonical = host.encode(x.as_slice(), x.rows());
    let device = Default::default();
    let model = w.to_model::<B>(&device);
    for batch in [1, 7, 64] {
        let checked = encode_on_backend(&model, &host, &x, batch, &device);
        assert_eq!(checked.ids, canonical, "batch {batch}");
        for row in &tied_rows {
            assert!(
                checked.redecided.contains(row),
                "row {row} was planted on a tie but its margin cleared {TIE_MARGIN} (batch {batch})"
            );
        }
    }
    // The planted pairs really are what these rows choose between.
    for row in 0..16 {
        assert!(
            canonical[row * 3] / 2 == row as u32,
            "row {row}: level-0 code {}",
            canonical[row * 3]
        );
    }
    for row in 16..32 {
        assert_eq!(
            canonical[row * 3 + 2] / 2,
            100 + row as u32 - 16,
            "row {row}"
        );
    }
}

#[test]
fn canonical_ids_do_not_depend_on_batching_on_near_ties() {
    let x = sample_rows(64);
    let (w, _) = near_tie_model(&x);
    let host = HostModel::new(&w).unwrap();
    let all = host.encode(x.as_slice(), x.rows());
    let one_by_one: Vec<u32> = (0..x.rows())
        .flat_map(|r| host.encode(x.row(r), 1))
        .collect();
    assert_eq!(all, one_by_one);
    assert_eq!(rqvae::ids::canonical::encode(&host, &x), all);
}

#[test]
fn an_exact_tie_has_zero_margin_and_goes_to_the_lower_code() {
    let x = sample_rows(64);
    let (w, _) = near_tie_model(&x);
    let device = Default::default();
    let model = w.to_model::<B>(&device);
    let input = rqvae::inference::to_tensor::<B>(x.row(40), 1, x.dim(), &device);
    let (ids, margin) = model.encode_with_margin(input);
    let margin: Vec<f32> = margin.into_data().to_vec().unwrap();
    assert_eq!(margin[0], 0.0);
    assert!(is_near_tie(margin[0]));
    let ids: Vec<i64> = ids.into_data().to_vec().unwrap();
    let host = HostModel::new(&w).unwrap();
    let canonical = host.encode(x.row(40), 1);
    // The planted pair: the two identical codes of level 1; the lower index must win.
    let dim = w.config.latent_dim;
    let codes: Vec<&[f32]> = w.codebooks[1].chunks_exact(dim).collect();
    let lower = (0..codes.len())
        .find(|&i| (i + 1..codes.len()).any(|j| codes[i] == codes[j]))
        .expect("a duplicated level-1 code");
    assert_eq!(
        canonical[1] as usize, lower,
        "the lower code wins an exact tie"
    );
    assert_eq!(ids[1] as u32, canonical[1]);
}

#[test]
fn real_rows_far_from_ties_keep_the_backend_ids() {
    // Away from ties the backend's own IDs stand: only a small share of real rows is re-decided.
    let x = sample_rows(2000);
    let w = default_model();
    let host = HostModel::new(&w).unwrap();
    let device = Default::default();
    let checked = encode_on_backend(&w.to_model::<B>(&device), &host, &x, 512, &device);
    assert_eq!(checked.ids, host.encode(x.as_slice(), x.rows()));
    assert!(
        checked.redecided.len() < x.rows() / 10,
        "{} of {} rows re-decided",
        checked.redecided.len(),
        x.rows()
    );
}
