//! The quality metrics on hand-made cases whose answers are worked out in the comments.

use rqvae::metrics::{
    cosine_stats, evaluate, level_usage, neighbour_overlap, prefix1_random, top_k_neighbours,
    tuple_stats,
};
use rqvae::EvalOptions;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn level_usage_counts_codes_and_perplexity() {
    // 4 items × 4 levels, codebook size 4. Columns (levels):
    //   level 0: 0 0 1 1 → used {0,1} = 2, dead 2, utilisation 0.5,
    //            p = (½, ½), entropy ln 2, perplexity 2.
    //   level 1: 3 3 3 3 → used 1, dead 3, utilisation 0.25, entropy 0, perplexity 1.
    //   level 2: 0 1 2 3 → used 4, dead 0, utilisation 1, entropy ln 4, perplexity 4.
    //   level 3: 0 0 1 2 → used 3, dead 1, utilisation 0.75,
    //            p = (½, ¼, ¼), entropy ½ ln 2 + ½ ln 4 = 1.5 ln 2, perplexity 2^1.5 = 2.828427.
    let ids = [
        0, 3, 0, 0, //
        0, 3, 1, 0, //
        1, 3, 2, 1, //
        1, 3, 3, 2,
    ];
    let usage = level_usage(&ids, 4, 4);
    assert_eq!(usage.len(), 4);
    let expected = [
        (2, 2, 0.5, 2.0),
        (1, 3, 0.25, 1.0),
        (4, 0, 1.0, 4.0),
        (3, 1, 0.75, 2f64.powf(1.5)),
    ];
    for (level, (u, &(used, dead, util, perp))) in usage.iter().zip(&expected).enumerate() {
        assert_eq!(u.used, used, "level {level} used");
        assert_eq!(u.dead, dead, "level {level} dead");
        assert!(close(u.utilisation, util, 1e-12), "level {level}: {u:?}");
        assert!(close(u.perplexity, perp, 1e-9), "level {level}: {u:?}");
    }

    // A bigger codebook changes dead codes and utilisation, not perplexity:
    // level 0 with codebook 256 → used 2, dead 254, utilisation 2/256.
    let usage = level_usage(&ids, 4, 256);
    assert_eq!((usage[0].used, usage[0].dead), (2, 254));
    assert!(close(usage[0].utilisation, 2.0 / 256.0, 1e-12));
    assert!(close(usage[0].perplexity, 2.0, 1e-9));
}

#[test]
fn cosine_stats_cases() {
    // dim 2. Identical rows → 1.
    let (mean, p50) = cosine_stats(&[1.0, 2.0], &[1.0, 2.0], 2);
    assert!(close(mean, 1.0, 1e-12) && close(p50, 1.0, 1e-12));
    // Orthogonal → 0.
    let (mean, p50) = cosine_stats(&[1.0, 0.0], &[0.0, 3.0], 2);
    assert!(close(mean, 0.0, 1e-12) && close(p50, 0.0, 1e-12));
    // Opposite (any scale) → −1.
    let (mean, p50) = cosine_stats(&[1.0, 1.0], &[-2.0, -2.0], 2);
    assert!(close(mean, -1.0, 1e-12) && close(p50, -1.0, 1e-12));
    // Scale does not matter: (3, 4) vs (6, 8) → 1.
    let (mean, _) = cosine_stats(&[3.0, 4.0], &[6.0, 8.0], 2);
    assert!(close(mean, 1.0, 1e-12));

    // Four rows together: cosines 1, 0, −1 and (1,0)·(1,1)/√2 = 1/√2.
    // mean = (1 + 0 − 1 + 0.70711) / 4 = 0.17678;
    // sorted −1, 0, 0.70711, 1 → even count, median = (0 + 0.70711) / 2 = 0.35355.
    let a = [1.0, 2.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0];
    let b = [1.0, 2.0, 0.0, 3.0, -2.0, -2.0, 1.0, 1.0];
    let (mean, p50) = cosine_stats(&a, &b, 2);
    let s = std::f64::consts::FRAC_1_SQRT_2;
    assert!(close(mean, s / 4.0, 1e-7), "mean {mean}");
    assert!(close(p50, s / 2.0, 1e-7), "median {p50}");

    // Odd count: rows 1..4 of the above → cosines 0, −1, 1/√2; median is the middle one, 0.
    let (mean, p50) = cosine_stats(&a[2..], &b[2..], 2);
    assert!(close(mean, (s - 1.0) / 3.0, 1e-7), "mean {mean}");
    assert!(close(p50, 0.0, 1e-7), "median {p50}");
}

#[test]
fn tuple_stats_counts_distinct_tuples_and_largest_group() {
    // Tuples (1,2) (1,2) (1,3) (2,1) (1,2) (2,2): distinct {(1,2),(1,3),(2,1),(2,2)} = 4;
    // (1,2) is shared by 3 items. (1,2) and (2,1) hold the same codes in another order and must
    // count as different tuples.
    let ids = [1, 2, 1, 2, 1, 3, 2, 1, 1, 2, 2, 2];
    assert_eq!(tuple_stats(&ids, 2), (4, 3));
    // Read as 3 levels: (1,2,1) (2,1,3) (2,1,1) (2,2,2) → 4 distinct, largest group 1.
    assert_eq!(tuple_stats(&ids, 3), (4, 1));
    // All the same → 1 distinct tuple holding every item.
    assert_eq!(tuple_stats(&[7, 7, 7, 7, 7, 7], 3), (1, 2));
}

#[test]
fn top_k_neighbours_uses_cosine_and_excludes_self() {
    // 2-D points:
    //   x0 = (1, 0)      x1 = (3, 0.3)    x2 = (0, 2)
    //   x3 = (−1, 0)     x4 = (10, 10)    x5 = (0, 7)
    // Cosines with x0: x1 = 3/√9.09 = 0.995, x4 = 0.707, x2 = x5 = 0, x3 = −1.
    // (By dot product x4 = 10 would beat x1 = 3: the order below proves cosine is used.)
    let x = [
        1.0, 0.0, 3.0, 0.3, 0.0, 2.0, -1.0, 0.0, 10.0, 10.0, 0.0, 7.0,
    ];
    let nn = top_k_neighbours(&x, 2, &[0], 3);
    // x0 itself (cosine 1) is excluded; x2 and x5 tie at 0, the lower index wins.
    assert_eq!(nn, vec![vec![1, 4, 2]]);

    // x3 = (−1, 0): x2 = x5 = 0 (tie → 2 then 5), x4 = −0.707, x1 = −0.995, x0 = −1.
    // x2 = (0, 2): x5 = 1 (same direction), x4 = 0.707, x1 = 0.3/√9.09 = 0.0995, then x0 and x3
    // tie at 0 → x0.
    let nn = top_k_neighbours(&x, 2, &[3, 2], 4);
    assert_eq!(nn, vec![vec![2, 5, 4, 1], vec![5, 4, 1, 0]]);

    // k = n − 1 lists everyone else.
    let nn = top_k_neighbours(&x, 2, &[5], 5);
    assert_eq!(nn, vec![vec![2, 4, 1, 0, 3]]);
}

#[test]
fn neighbour_overlap_is_mean_shared_fraction() {
    // Query 0: {1,2,3} ∩ {3,2,9} = {2,3} → 2; query 1: {4,5,6} ∩ {7,8,9} = ∅ → 0.
    // (2 + 0) / (2 queries × k 3) = 1/3.
    let a = vec![vec![1, 2, 3], vec![4, 5, 6]];
    let b = vec![vec![3, 2, 9], vec![7, 8, 9]];
    assert!(close(neighbour_overlap(&a, &b, 3), 1.0 / 3.0, 1e-12));
    // Same sets in another order → 1.
    let c = vec![vec![3, 1, 2], vec![6, 5, 4]];
    assert!(close(neighbour_overlap(&a, &c, 3), 1.0, 1e-12));
}

#[test]
fn prefix1_random_cases() {
    // 50 items × 2 levels. All first codes equal → every pair matches → 1.0 (second codes vary).
    let same: Vec<u32> = (0..50).flat_map(|i| [4, i]).collect();
    assert_eq!(prefix1_random(&same, 2, 1000, 0), 1.0);
    // All first codes distinct → no pair (i ≠ j) matches → 0.0, even with equal second codes.
    let distinct: Vec<u32> = (0..50).flat_map(|i| [i, 4]).collect();
    assert_eq!(prefix1_random(&distinct, 2, 1000, 0), 0.0);
    // Two halves of 50: P(same) = 49/99 = 0.4949 for i ≠ j; 20 000 pairs → σ ≈ 0.0035.
    let halves: Vec<u32> = (0..100).flat_map(|i| [i / 50, 0]).collect();
    let p = prefix1_random(&halves, 2, 20_000, 5);
    assert!(close(p, 49.0 / 99.0, 0.02), "got {p}");
    // Fewer than 2 items or no pairs → 0.
    assert_eq!(prefix1_random(&[1, 2], 2, 100, 0), 0.0);
    assert_eq!(prefix1_random(&same, 2, 0, 0), 0.0);
}

#[test]
fn evaluate_perfect_reconstruction() {
    // 3 tight clusters of 10 points in 8-D around orthogonal axes e0, e1, e2 (offsets ≤ 0.1, so
    // every point's nearest neighbours are in its own cluster). The first code is the cluster,
    // the second the index within it → 30 distinct tuples.
    let (dim, per) = (8, 10);
    let mut x = Vec::new();
    let mut ids = Vec::new();
    for c in 0..3u32 {
        for i in 0..per as u32 {
            let mut row = vec![0f32; dim];
            row[c as usize] = 1.0;
            row[3 + (i as usize % 5)] = 0.02 * (i + 1) as f32;
            row[(c as usize + 1) % 3] += 0.01 * i as f32;
            x.extend(row);
            ids.extend([c, i]);
        }
    }
    let n = 3 * per;
    let options = EvalOptions {
        queries: None,
        random_pairs: 20_000,
        seed: 1,
    };
    let m = evaluate(&x, &x, dim, &ids, 2, 16, options);
    assert_eq!(m.items, n);
    assert_eq!(m.queries, n, "queries: None uses every item");
    assert_eq!(m.random_pairs, 20_000);
    // Reconstruction == input → every cosine is 1 and both neighbour lists agree.
    assert!(close(m.cosine_mean, 1.0, 1e-6), "{m:?}");
    assert!(close(m.cosine_p50, 1.0, 1e-6), "{m:?}");
    assert_eq!(m.nn_overlap_at_5, 1.0);
    // Tuples: all distinct.
    assert_eq!(m.unique_tuples, n);
    assert_eq!(m.max_items_per_tuple, 1);
    assert_eq!(m.unique_fraction, 1.0);
    // Level 0 uses codes 0..3 of 16, uniformly → perplexity 3; level 1 uses 0..10 uniformly.
    assert_eq!((m.levels[0].used, m.levels[0].dead), (3, 13));
    assert!(close(m.levels[0].perplexity, 3.0, 1e-9));
    assert_eq!((m.levels[1].used, m.levels[1].dead), (10, 6));
    assert!(close(m.levels[1].perplexity, 10.0, 1e-9));
    // The nearest neighbour is always in the same cluster → prefix-1 NN = 1; random pairs share
    // a cluster with probability 9/29 = 0.310.
    assert_eq!(m.prefix1_nn, 1.0);
    assert!(close(m.prefix1_random, 9.0 / 29.0, 0.02), "{m:?}");

    // Sampled queries: a subset of 12, still perfect.
    let m = evaluate(
        &x,
        &x,
        dim,
        &ids,
        2,
        16,
        EvalOptions {
            queries: Some(12),
            ..options
        },
    );
    assert_eq!(m.queries, 12);
    assert_eq!(m.nn_overlap_at_5, 1.0);

    // A reconstruction that maps every item onto its cluster axis keeps cosine high but loses
    // the within-cluster neighbour order: overlap must drop below 1.
    let recon: Vec<f32> = (0..n)
        .flat_map(|i| {
            let mut row = vec![0f32; dim];
            row[i / per] = 1.0;
            row[7] = 0.001 * ((i * 7) % per) as f32;
            row
        })
        .collect();
    let m = evaluate(&x, &recon, dim, &ids, 2, 16, options);
    assert!(m.cosine_mean < 1.0 && m.cosine_mean > 0.9, "{m:?}");
    assert!(m.nn_overlap_at_5 < 1.0, "{m:?}");
}

#[test]
fn anisotropy_tells_a_shifted_copy_from_the_sample() {
    use rqvae::anisotropy::measure;
    let data = crate::data::sample_rows(3000);
    let (x, dim) = (data.as_slice(), data.dim());
    let plain = measure(x, dim, 10_000, 1);
    assert!(!plain.is_anisotropic(), "{plain:?}");
    assert!(plain.mean_pair_cosine < 0.3, "{plain:?}");
    let moved = measure(&crate::data::shifted(x, dim), dim, 10_000, 1);
    assert!(moved.is_anisotropic(), "{moved:?}");
    assert!(moved.mean_pair_cosine > 0.8, "{moved:?}");
    // One direction carries about what random pairs share.
    assert!(moved.top_direction_share > 0.8, "{moved:?}");
    assert!(plain.top_direction_share < 0.4, "{plain:?}");
    assert_eq!(moved.pairs, 10_000);
    // Independent gaussian directions: cosine near 0, every direction about 1/dim.
    let (n, d) = (2000, 64);
    let mut state = 7u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let iso: Vec<f32> = (0..n * d).map(|_| noise()).collect();
    let m = measure(&iso, d, 10_000, 2);
    assert!(m.mean_pair_cosine.abs() < 0.02, "{m:?}");
    assert!(m.top_direction_share < 3.0 / d as f64, "{m:?}");
}

#[test]
fn reports_warn_of_anisotropic_inputs_and_near_random_neighbours() {
    let data = crate::data::sample_rows(600);
    let (x, dim) = (data.as_slice(), data.dim());
    let ids: Vec<u32> = (0..600u32).flat_map(|i| [i % 7, i % 5, i % 3]).collect();
    let options = EvalOptions::default();
    // Reconstructions equal to the inputs keep every neighbour: no warning on the sample.
    let good = evaluate(x, x, dim, &ids, 3, 8, options);
    assert!(good.warnings().is_empty(), "{:?}", good.warnings());
    assert!(!good.table().contains("warning"), "{}", good.table());
    // The shifted copy, reconstructed by rows in another order, warns twice.
    let moved = crate::data::shifted(x, dim);
    let mut scrambled = moved.clone();
    scrambled.rotate_left(dim * 301);
    let bad = evaluate(&moved, &scrambled, dim, &ids, 3, 8, options);
    let warnings = bad.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("one strong direction"), "{warnings:?}");
    assert!(warnings[1].contains("near what random"), "{warnings:?}");
    assert!(
        bad.table().contains("warning: NN overlap@5"),
        "{}",
        bad.table()
    );
    assert!(rqvae::metrics::near_random_overlap(600) > 0.02);
    // One item has no neighbours to keep: no warning for that.
    let one = evaluate(&x[..dim], &x[dim..2 * dim], dim, &ids[..3], 3, 8, options);
    assert!(one.warnings().is_empty(), "{:?}", one.warnings());
}
