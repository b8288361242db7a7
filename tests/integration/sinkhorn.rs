//! Balanced assignment: on a batch where nearest-code assignment piles most rows on a few codes,
//! the Sinkhorn plan's argmax spreads them evenly, and rows stay on codes that are close.

use burn::backend::NdArray;
use burn::tensor::{Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::sinkhorn::balanced_codes;

type B = NdArray<f32>;

fn counts(codes: &[i64], k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    for &code in codes {
        c[code as usize] += 1;
    }
    c
}

#[test]
fn a_skewed_batch_is_spread_evenly_over_the_codes() {
    let (n, k) = (512, 16);
    let mut rng = StdRng::seed_from_u64(1);
    // Code j is at distance ~ j/k from every row, plus noise: nearest picks code 0 or 1 for all.
    let scores: Vec<f32> = (0..n * k)
        .map(|i| (i % k) as f32 / k as f32 + rng.random::<f32>() * 0.1)
        .collect();
    let nearest: Vec<usize> = scores
        .chunks_exact(k)
        .map(|row| (0..k).min_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap())
        .collect();
    let nearest_used = nearest
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert!(
        nearest_used <= 2,
        "the batch must be skewed to test anything"
    );

    let device = Default::default();
    let t = Tensor::<B, 2>::from_data(TensorData::new(scores.clone(), [n, k]), &device);
    let codes: Vec<i64> = balanced_codes(t, 0.03, 50)
        .into_data()
        .iter::<i64>()
        .collect();
    assert_eq!(codes.len(), n);
    let c = counts(&codes, k);
    let share = n / k;
    for (code, &count) in c.iter().enumerate() {
        assert!(
            count.abs_diff(share) <= share / 2,
            "code {code} got {count} rows, expected about {share}: {c:?}"
        );
    }
}

#[test]
fn a_balanced_batch_keeps_its_nearest_codes() {
    // Each row is nearest to a different code, one row per code: already balanced, so the plan
    // must not move anyone.
    let k = 8;
    let scores: Vec<f32> = (0..k * k)
        .map(|i| {
            if i / k == i % k {
                0.0
            } else {
                1.0 + (i % 3) as f32
            }
        })
        .collect();
    let device = Default::default();
    let t = Tensor::<B, 2>::from_data(TensorData::new(scores, [k, k]), &device);
    let codes: Vec<i64> = balanced_codes(t, 0.03, 20)
        .into_data()
        .iter::<i64>()
        .collect();
    assert_eq!(codes, (0..k as i64).collect::<Vec<_>>());
}
