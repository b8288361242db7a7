//! k-means for codebook initialisation: k-means++ seeding followed by Lloyd iterations.
//!
//! Runs on the host in plain Rust: it sees one batch of latents (a few thousand × 32), which is
//! far cheaper than a device round trip per iteration.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `k` centroids of `points` (`n × dim`, row-major), as `k × dim` row-major.
///
/// With fewer distinct points than `k`, surplus centroids are copies of data points plus tiny
/// noise, so every code still starts on the data. Empty clusters are re-seeded at the point
/// farthest from its centroid.
pub fn kmeans(points: &[f32], dim: usize, k: usize, iterations: usize, seed: u64) -> Vec<f32> {
    let n = points.len() / dim;
    assert!(
        n > 0 && dim > 0 && k > 0,
        "kmeans needs points, a dimension and k"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let row = |i: usize| &points[i * dim..(i + 1) * dim];

    // k-means++: each next seed is drawn with probability ∝ squared distance to the nearest seed.
    let mut centroids = Vec::with_capacity(k * dim);
    centroids.extend_from_slice(row(rng.random_range(0..n)));
    let mut nearest_sq: Vec<f32> = (0..n).map(|i| sq_dist(row(i), &centroids[..dim])).collect();
    for c in 1..k {
        let total: f64 = nearest_sq.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest_sq.iter().enumerate() {
                target -= d as f64;
                if target <= 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        } else {
            rng.random_range(0..n)
        };
        let start = centroids.len();
        centroids.extend_from_slice(row(pick));
        if total <= 0.0 {
            // Every point already coincides with a seed: jitter so codes stay distinct.
            for v in &mut centroids[start..] {
                *v += (rng.random::<f32>() - 0.5) * 1e-4;
            }
        }
        let new = &centroids[c * dim..(c + 1) * dim];
        for (i, d) in nearest_sq.iter_mut().enumerate() {
            *d = d.min(sq_dist(row(i), new));
        }
    }

    let mut assignment = vec![0usize; n];
    let mut dist = vec![0f32; n];
    for _ in 0..iterations {
        for (i, (a, d)) in assignment.iter_mut().zip(dist.iter_mut()).enumerate() {
            (*a, *d) = nearest(row(i), &centroids, dim);
        }
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &c) in assignment.iter().enumerate() {
            counts[c] += 1;
            for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row(i)) {
                *s += v as f64;
            }
        }
        let mut moved = false;
        for c in 0..k {
            let target = &mut centroids[c * dim..(c + 1) * dim];
            if counts[c] == 0 {
                let far = (0..n)
                    .max_by(|&a, &b| dist[a].total_cmp(&dist[b]))
                    .expect("n > 0");
                target.copy_from_slice(row(far));
                // Jitter, so a re-seeded code never duplicates another exactly (a duplicate is
                // never the first nearest code, so it would be dead from the start).
                for v in target.iter_mut() {
                    *v += (rng.random::<f32>() - 0.5) * 1e-4;
                }
                dist[far] = 0.0;
                moved = true;
                continue;
            }
            for (t, &s) in target.iter_mut().zip(&sums[c * dim..(c + 1) * dim]) {
                let mean = (s / counts[c] as f64) as f32;
                moved |= *t != mean;
                *t = mean;
            }
        }
        if !moved {
            break;
        }
    }
    centroids
}

/// Index and squared distance of the centroid nearest to `x`.
pub fn nearest(x: &[f32], centroids: &[f32], dim: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.chunks_exact(dim).enumerate() {
        let d = sq_dist(x, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
