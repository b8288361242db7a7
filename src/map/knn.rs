//! Approximate k nearest neighbours by NN-descent (Dong, Moses and Li, 2011): each item's
//! neighbours' neighbours are likely its own, so a random graph refined by comparing the
//! candidates every item shares converges in a few passes, at a cost near `n · k²` distances
//! where the exact graph costs `n²`. It is what UMAP's own implementation uses; here it runs on
//! the model's small latents, single-threaded and seeded, so the browser and the native build
//! give the same graph.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

const NONE: u32 = u32::MAX;
/// A pass that changes fewer than this share of the graph's entries is the last: later passes
/// would each change a few hundredths of a percent.
const STOP: f64 = 0.005;
/// Random-projection trees that seed the graph.
const RP_TREES: usize = 6;

/// Each row's `k` nearest other rows, nearest first, with their Euclidean distances.
pub struct Knn {
    pub k: usize,
    pub indices: Vec<u32>,
    pub distances: Vec<f32>,
}

/// A uniform integer below `n` (Lemire's multiply-shift: no division in the hot loops).
#[inline]
pub(crate) fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((rng.next_u32() as u64 * n as u64) >> 32) as usize
}

/// Squared Euclidean distance; four running sums so that it vectorises (SIMD128 in the browser).
#[inline]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0.0f32; 4];
    let (ca, ra) = a.as_chunks::<4>();
    let (cb, rb) = b.as_chunks::<4>();
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..4 {
            let d = x[l] - y[l];
            s[l] += d * d;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += (x - y) * (x - y);
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// Fixed-size max-heaps, one per row, of (key, index, flag): the `size` smallest keys seen.
struct Heaps {
    size: usize,
    keys: Vec<f32>,
    idx: Vec<u32>,
    flags: Vec<bool>,
}

impl Heaps {
    fn new(rows: usize, size: usize) -> Self {
        Self {
            size,
            keys: vec![f32::INFINITY; rows * size],
            idx: vec![NONE; rows * size],
            flags: vec![false; rows * size],
        }
    }

    /// Inserts `j` under `row` unless its key is no better than the worst kept or it is there
    /// already; true when it went in.
    fn push(&mut self, row: usize, key: f32, j: u32, flag: bool) -> bool {
        let at = row * self.size;
        let keys = &mut self.keys[at..at + self.size];
        if key >= keys[0] {
            return false;
        }
        let idx = &mut self.idx[at..at + self.size];
        if idx.contains(&j) {
            return false;
        }
        let flags = &mut self.flags[at..at + self.size];
        // Replace the root (the worst) and sift down.
        let mut i = 0;
        loop {
            let left = 2 * i + 1;
            if left >= keys.len() {
                break;
            }
            let right = left + 1;
            let child = if right < keys.len() && keys[right] > keys[left] {
                right
            } else {
                left
            };
            if keys[child] <= key {
                break;
            }
            keys[i] = keys[child];
            idx[i] = idx[child];
            flags[i] = flags[child];
            i = child;
        }
        keys[i] = key;
        idx[i] = j;
        flags[i] = flag;
        true
    }

    fn row(&self, row: usize) -> std::ops::Range<usize> {
        row * self.size..(row + 1) * self.size
    }
}

/// The `k` nearest neighbours of every row of `data` (`rows × dim`), by NN-descent from a
/// random graph; `k < rows`. Stops after `max_iters` passes or when a pass changes fewer than
/// 0.5 % of the graph's entries.
pub fn nn_descent(data: &[f32], dim: usize, k: usize, seed: u64, max_iters: usize) -> Knn {
    let rows = data.len() / dim;
    assert!(k < rows, "k must be below the row count");
    let point = |i: usize| &data[i * dim..(i + 1) * dim];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut graph = Heaps::new(rows, k);
    // Start from the leaves of a few random-projection trees (as pynndescent does): rows that
    // share a leaf are close, so the descent starts near the answer and converges in a few
    // passes where a random start needs many on large catalogs.
    let leaf = (2 * k).max(16);
    let mut order: Vec<u32> = (0..rows as u32).collect();
    for _ in 0..RP_TREES {
        for range in rp_tree_leaves(data, dim, &mut order, leaf, &mut rng) {
            let members = &order[range];
            for (at, &a) in members.iter().enumerate() {
                for &b in &members[at + 1..] {
                    let d = squared_distance(point(a as usize), point(b as usize));
                    graph.push(a as usize, d, b, true);
                    graph.push(b as usize, d, a, true);
                }
            }
        }
    }
    // Rows a tree left short of `k` get random ones.
    for i in 0..rows {
        let mut filled = graph.idx[graph.row(i)]
            .iter()
            .filter(|&&j| j != NONE)
            .count();
        while filled < k {
            let j = below(&mut rng, rows);
            if j != i && graph.push(i, squared_distance(point(i), point(j)), j as u32, true) {
                filled += 1;
            }
        }
    }
    let max_candidates = k;
    let mut new_cand = Heaps::new(rows, max_candidates);
    let mut old_cand = Heaps::new(rows, max_candidates);
    let (mut news, mut olds) = (Vec::new(), Vec::new());
    for _ in 0..max_iters {
        new_cand.keys.fill(f32::INFINITY);
        new_cand.idx.fill(NONE);
        old_cand.keys.fill(f32::INFINITY);
        old_cand.idx.fill(NONE);
        // A random sample of each row's new and old neighbours, reverse ones included: random
        // keys make the bounded heaps keep a uniform sample.
        for i in 0..rows {
            for s in graph.row(i) {
                let j = graph.idx[s];
                if j == NONE {
                    continue;
                }
                let key = rng.next_u32() as f32;
                let cand = if graph.flags[s] {
                    &mut new_cand
                } else {
                    &mut old_cand
                };
                cand.push(i, key, j, false);
                cand.push(j as usize, key, i as u32, false);
            }
        }
        // The sampled new neighbours are old from now on.
        for i in 0..rows {
            for s in graph.row(i) {
                if graph.flags[s] && new_cand.idx[new_cand.row(i)].contains(&graph.idx[s]) {
                    graph.flags[s] = false;
                }
            }
        }
        let mut updates = 0usize;
        for i in 0..rows {
            news.clear();
            news.extend(
                new_cand.idx[new_cand.row(i)]
                    .iter()
                    .copied()
                    .filter(|&j| j != NONE),
            );
            olds.clear();
            olds.extend(
                old_cand.idx[old_cand.row(i)]
                    .iter()
                    .copied()
                    .filter(|&j| j != NONE),
            );
            for (a_at, &a) in news.iter().enumerate() {
                let pa = point(a as usize);
                for &b in news[a_at + 1..].iter().chain(olds.iter()) {
                    if a == b {
                        continue;
                    }
                    let d = squared_distance(pa, point(b as usize));
                    updates += graph.push(a as usize, d, b, true) as usize;
                    updates += graph.push(b as usize, d, a, true) as usize;
                }
            }
        }
        if (updates as f64) <= STOP * (rows * k) as f64 {
            break;
        }
    }
    let mut indices = Vec::with_capacity(rows * k);
    let mut distances = Vec::with_capacity(rows * k);
    let mut order: Vec<(f32, u32)> = Vec::with_capacity(k);
    for i in 0..rows {
        order.clear();
        for s in graph.row(i) {
            order.push((graph.keys[s], graph.idx[s]));
        }
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(d, j) in &order {
            indices.push(j);
            distances.push(d.sqrt());
        }
    }
    Knn {
        k,
        indices,
        distances,
    }
}

/// Splits `order` in place into leaves of at most `leaf` rows, each split by the hyperplane
/// halfway between two random rows of the part (an even random split when that puts nearly
/// everything on one side, as with duplicates); returns the leaves' ranges.
fn rp_tree_leaves(
    data: &[f32],
    dim: usize,
    order: &mut [u32],
    leaf: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<std::ops::Range<usize>> {
    let point = |i: u32| &data[i as usize * dim..(i as usize + 1) * dim];
    let mut leaves = Vec::new();
    let mut stack = Vec::new();
    stack.push(0..order.len());
    let mut normal = vec![0.0f32; dim];
    let mut side = Vec::new();
    while let Some(range) = stack.pop() {
        let n = range.len();
        if n <= leaf {
            leaves.push(range);
            continue;
        }
        let part = &mut order[range.clone()];
        let a = part[below(rng, n)];
        let b = part[below(rng, n)];
        let (pa, pb) = (point(a), point(b));
        let mut offset = 0.0f32;
        for j in 0..dim {
            normal[j] = pa[j] - pb[j];
            offset += normal[j] * (pa[j] + pb[j]) * 0.5;
        }
        side.clear();
        side.extend(part.iter().map(|&r| {
            let margin: f32 = point(r)
                .iter()
                .zip(&normal)
                .map(|(x, w)| x * w)
                .sum::<f32>()
                - offset;
            if margin == 0.0 {
                rng.next_u32() & 1 == 1
            } else {
                margin > 0.0
            }
        }));
        let mut left = side.iter().filter(|&&s| s).count();
        if left < n / 16 || n - left < n / 16 {
            // Degenerate: shuffle and halve.
            for i in (1..n).rev() {
                part.swap(i, below(rng, i + 1));
            }
            left = n / 2;
        } else {
            // Stable partition: `true` first.
            let mut tmp: Vec<u32> = Vec::with_capacity(n);
            tmp.extend(part.iter().zip(&side).filter(|(_, &s)| s).map(|(&r, _)| r));
            tmp.extend(part.iter().zip(&side).filter(|(_, &s)| !s).map(|(&r, _)| r));
            part.copy_from_slice(&tmp);
        }
        stack.push(range.start..range.start + left);
        stack.push(range.start + left..range.end);
    }
    leaves
}

/// The exact `k` nearest rows of `query` among `data`'s rows (itself left out), nearest first:
/// the yardstick the approximate graph and the map are measured by.
pub fn exact_neighbours(data: &[f32], dim: usize, query: usize, k: usize) -> Vec<u32> {
    let rows = data.len() / dim;
    let q = &data[query * dim..(query + 1) * dim];
    let mut all: Vec<(f32, u32)> = (0..rows)
        .filter(|&r| r != query)
        .map(|r| (squared_distance(q, &data[r * dim..(r + 1) * dim]), r as u32))
        .collect();
    let k = k.min(all.len());
    all.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    });
    all.truncate(k);
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().map(|(_, r)| r).collect()
}
