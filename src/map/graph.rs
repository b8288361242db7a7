//! The weighted neighbour graph UMAP lays out (McInnes, Healy and Melville, 2018, §3.1): each
//! item's distances to its neighbours are rescaled by its own local density (so that dense and
//! sparse regions count alike), turned into membership strengths, and the two directions of an
//! edge are joined by fuzzy union, `a + b − a·b`.

use super::knn::Knn;

/// Edges of the symmetric graph, both directions listed: `heads[e] → tails[e]` with `weights[e]`
/// in (0, 1].
pub struct Graph {
    pub heads: Vec<u32>,
    pub tails: Vec<u32>,
    pub weights: Vec<f32>,
}

/// The scale `sigma` for which a row's memberships sum to `log2(k + 1)` (its neighbours plus
/// itself, as UMAP counts them), found by bisection; and `rho`, its nearest distance.
fn smooth_distances(distances: &[f32], mean_all: f32) -> (f32, f32) {
    let target = ((distances.len() + 1) as f32).log2();
    let rho = distances.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
    let (mut lo, mut hi, mut mid) = (0.0f32, f32::INFINITY, 1.0f32);
    for _ in 0..64 {
        let sum: f32 = distances
            .iter()
            .map(|&d| {
                let over = d - rho;
                if over > 0.0 {
                    (-over / mid).exp()
                } else {
                    1.0
                }
            })
            .sum();
        if (sum - target).abs() < 1e-5 {
            break;
        }
        if sum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi.is_infinite() {
                mid * 2.0
            } else {
                (lo + hi) / 2.0
            };
        }
    }
    // A floor keeps rows whose neighbours all sit at one distance from weights of 0/0.
    let mean_row = distances.iter().sum::<f32>() / distances.len() as f32;
    let floor = 1e-3 * if rho > 0.0 { mean_row } else { mean_all };
    (mid.max(floor), rho)
}

/// The fuzzy union of the directed k-NN memberships.
pub fn fuzzy_graph(knn: &Knn) -> Graph {
    let k = knn.k;
    let rows = knn.indices.len() / k;
    let mean_all = knn.distances.iter().sum::<f32>() / knn.distances.len().max(1) as f32;
    // (i → j, w) under key (i, j) as "forward" and under key (j, i) as "backward", so that after
    // sorting each key holds both directions of its pair.
    let mut entries: Vec<(u64, f32, bool)> = Vec::with_capacity(2 * rows * k);
    for i in 0..rows {
        let d = &knn.distances[i * k..(i + 1) * k];
        let (sigma, rho) = smooth_distances(d, mean_all);
        for (s, &j) in knn.indices[i * k..(i + 1) * k].iter().enumerate() {
            let w = (-(d[s] - rho).max(0.0) / sigma).exp();
            if w <= 0.0 {
                continue;
            }
            let (i, j) = (i as u64, j as u64);
            entries.push(((i << 32) | j, w, true));
            entries.push(((j << 32) | i, w, false));
        }
    }
    entries.sort_unstable_by_key(|e| e.0);
    let mut graph = Graph {
        heads: Vec::with_capacity(entries.len()),
        tails: Vec::with_capacity(entries.len()),
        weights: Vec::with_capacity(entries.len()),
    };
    let mut at = 0;
    while at < entries.len() {
        let key = entries[at].0;
        let (mut forward, mut backward) = (0.0f32, 0.0f32);
        while at < entries.len() && entries[at].0 == key {
            if entries[at].2 {
                forward = entries[at].1;
            } else {
                backward = entries[at].1;
            }
            at += 1;
        }
        graph.heads.push((key >> 32) as u32);
        graph.tails.push(key as u32);
        graph.weights.push(forward + backward - forward * backward);
    }
    graph
}
