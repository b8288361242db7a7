//! k-means codebook initialisation on synthetic data with a known answer.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::kmeans::kmeans;

const DIM: usize = 4;

fn dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut StdRng) -> f32 {
    let u1 = rng.random::<f32>().max(1e-7);
    let u2 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// 8 blob centres on corners of a 4-D hypercube of side 10 (pairwise at least 10 apart), and
/// 50 points around each with σ = 0.3. Points are interleaved, not grouped by blob.
fn blobs(seed: u64) -> (Vec<Vec<f32>>, Vec<f32>) {
    let corners = [
        0b0000, 0b0011, 0b0101, 0b0110, 0b1001, 0b1010, 0b1100, 0b1111,
    ];
    let centres: Vec<Vec<f32>> = corners
        .iter()
        .map(|&c: &u32| (0..DIM).map(|d| 10.0 * ((c >> d) & 1) as f32).collect())
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::new();
    for _ in 0..50 {
        for centre in &centres {
            points.extend(centre.iter().map(|&c| c + 0.3 * normal(&mut rng)));
        }
    }
    (centres, points)
}

#[test]
fn finds_every_blob_centre() {
    let (centres, points) = blobs(1);
    for seed in [0, 1, 2, 3, 4] {
        let centroids = kmeans(&points, DIM, 8, 50, seed);
        assert_eq!(centroids.len(), 8 * DIM);
        assert!(centroids.iter().all(|v| v.is_finite()));
        for (b, centre) in centres.iter().enumerate() {
            // The mean of 50 points with σ = 0.3 is within ~0.1 of the true centre.
            let nearest = centroids
                .chunks_exact(DIM)
                .map(|c| dist(c, centre))
                .fold(f32::INFINITY, f32::min);
            assert!(
                nearest < 0.25,
                "seed {seed}: blob {b} at {centre:?} has no centroid nearby (nearest {nearest})"
            );
        }
    }
}

#[test]
fn every_centroid_lies_near_the_data() {
    let (_, points) = blobs(2);
    // k = 12 > 8 blobs: surplus centroids must still sit inside blobs, not in the empty space.
    for k in [8, 12] {
        let centroids = kmeans(&points, DIM, k, 50, 9);
        assert_eq!(centroids.len(), k * DIM);
        for (c, centroid) in centroids.chunks_exact(DIM).enumerate() {
            let nearest = points
                .chunks_exact(DIM)
                .map(|p| dist(p, centroid))
                .fold(f32::INFINITY, f32::min);
            assert!(
                nearest < 1.0,
                "k = {k}: centroid {c} {centroid:?} is {nearest} from the nearest point"
            );
        }
    }
}

#[test]
fn more_centroids_than_distinct_points() {
    // 3 distinct points, each repeated 5 times; k = 8.
    let distinct = [
        [1.0f32, 2.0, 3.0, 4.0],
        [-1.0, 0.0, 0.5, 2.0],
        [5.0, 5.0, -5.0, 0.0],
    ];
    let points: Vec<f32> = (0..15).flat_map(|i| distinct[i % 3]).collect();
    let centroids = kmeans(&points, DIM, 8, 25, 3);
    assert_eq!(centroids.len(), 8 * DIM);
    assert!(centroids.iter().all(|v| v.is_finite()), "{centroids:?}");
    for centroid in centroids.chunks_exact(DIM) {
        let nearest = distinct
            .iter()
            .map(|p| dist(p, centroid))
            .fold(f32::INFINITY, f32::min);
        assert!(nearest < 1e-2, "centroid {centroid:?} is off the data");
    }
    // Every distinct point has a centroid on it.
    for p in &distinct {
        let nearest = centroids
            .chunks_exact(DIM)
            .map(|c| dist(p, c))
            .fold(f32::INFINITY, f32::min);
        assert!(nearest < 1e-2, "point {p:?} has no centroid");
    }

    // A single point, k = 4.
    let one = kmeans(&[0.5, -0.5, 1.5, 2.0], DIM, 4, 10, 0);
    assert_eq!(one.len(), 4 * DIM);
    assert!(one.iter().all(|v| v.is_finite()));
}

#[test]
fn deterministic_for_a_fixed_seed() {
    let (_, points) = blobs(3);
    let a = kmeans(&points, DIM, 10, 30, 17);
    let b = kmeans(&points, DIM, 10, 30, 17);
    assert_eq!(a, b);
}
