//! The quality metrics, with the definitions of `docs/metrics.md`:
//!
//! - utilisation of a level: share of its codes used by at least one item (dead = unused);
//! - perplexity of a level: exp(entropy of its code-usage distribution);
//! - cosine between each input and its reconstruction: mean and median;
//! - NN overlap@5: for sampled query items, |top-5 cosine neighbours among the inputs ∩ top-5
//!   among the reconstructions| / 5, the item itself excluded, averaged;
//! - unique tuples: distinct ID tuples / N, plus the largest number of items sharing one tuple;
//! - prefix-1 coincidence: share of (sampled) items whose nearest input-space neighbour has the
//!   same first code, and the same share for uniformly random pairs.
//!
//! And the balance and collision measures that semantic-ID audits ask for:
//!
//! - Gini of a level: the Gini coefficient of its per-code usage counts, all codes included
//!   (0: every code used equally; near 1: one code takes everything);
//! - entropy ratio of a level: entropy of its code usage / ln(codebook size), 1 when uniform;
//! - collision-free rate: share of items whose ID tuple no other item has.

use crate::anisotropy::{self, Anisotropy};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Usage of one codebook level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelUsage {
    pub used: usize,
    pub dead: usize,
    pub utilisation: f64,
    pub perplexity: f64,
    #[serde(default)]
    pub gini: f64,
    #[serde(default)]
    pub entropy_ratio: f64,
}

/// Every metric of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub items: usize,
    pub levels: Vec<LevelUsage>,
    pub cosine_mean: f64,
    pub cosine_p50: f64,
    pub nn_overlap_at_5: f64,
    pub unique_tuples: usize,
    pub unique_fraction: f64,
    pub max_items_per_tuple: usize,
    /// Share of items whose tuple no other item has.
    #[serde(default)]
    pub collision_free_rate: f64,
    pub prefix1_nn: f64,
    pub prefix1_random: f64,
    /// Query items used by the neighbour metrics (NN overlap, prefix-1 NN).
    pub queries: usize,
    /// Random pairs used by prefix-1 random.
    pub random_pairs: usize,
    /// How much the input embeddings share one direction ([`crate::anisotropy`]).
    #[serde(default)]
    pub anisotropy: Anisotropy,
    /// Whether the model centres its inputs before encoding them ([`crate::input_transform`]),
    /// which is what anisotropic embeddings need.
    #[serde(default)]
    pub input_centred: bool,
}

/// How neighbour metrics sample.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Query items for the neighbour metrics; `None` uses every item.
    pub queries: Option<usize>,
    pub random_pairs: usize,
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            queries: Some(5000),
            random_pairs: 100_000,
            seed: 0,
        }
    }
}

/// Per-level usage of IDs stored row-major as `[n, levels]`.
pub fn level_usage(ids: &[u32], levels: usize, codebook_size: usize) -> Vec<LevelUsage> {
    (0..levels)
        .map(|level| {
            let mut counts = vec![0usize; codebook_size];
            for row in ids.chunks_exact(levels) {
                counts[row[level] as usize] += 1;
            }
            usage_of_counts(&counts)
        })
        .collect()
}

/// One level's usage from how many items use each code (`counts.len()` is the codebook size).
pub fn usage_of_counts(counts: &[usize]) -> LevelUsage {
    let codebook_size = counts.len();
    let used = counts.iter().filter(|&&c| c > 0).count();
    let perplexity = perplexity(counts);
    LevelUsage {
        used,
        dead: codebook_size - used,
        utilisation: used as f64 / codebook_size as f64,
        perplexity,
        gini: gini(counts),
        entropy_ratio: if codebook_size > 1 {
            perplexity.ln() / (codebook_size as f64).ln()
        } else {
            1.0
        },
    }
}

/// exp(entropy) of the distribution given by per-code `counts`.
pub fn perplexity(counts: &[usize]) -> f64 {
    let total = counts.iter().sum::<usize>() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.ln()
        })
        .sum();
    entropy.exp()
}

/// Gini coefficient of `counts` (0 when all are equal or all are zero).
pub fn gini(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 || counts.len() < 2 {
        return 0.0;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    // With counts ascending and ranks i = 1..n: G = 2 Σ i·xᵢ / (n Σ x) − (n + 1) / n.
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &c)| (i + 1) as f64 * c as f64)
        .sum();
    2.0 * weighted / (n * total as f64) - (n + 1.0) / n
}

/// Mean and median cosine between matching rows of `a` and `b`.
pub fn cosine_stats(a: &[f32], b: &[f32], dim: usize) -> (f64, f64) {
    let mut cos: Vec<f64> = a
        .chunks_exact(dim)
        .zip(b.chunks_exact(dim))
        .map(|(x, y)| cosine(x, y))
        .collect();
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    cos.sort_by(f64::total_cmp);
    let mid = cos.len() / 2;
    let median = if cos.len() % 2 == 1 {
        cos[mid]
    } else {
        (cos[mid - 1] + cos[mid]) / 2.0
    };
    (mean, median)
}

pub(crate) fn cosine(x: &[f32], y: &[f32]) -> f64 {
    let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        xy += a as f64 * b as f64;
        xx += a as f64 * a as f64;
        yy += b as f64 * b as f64;
    }
    let denom = (xx * yy).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        xy / denom
    }
}

/// Number of distinct ID tuples and the size of the largest group sharing one.
pub fn tuple_stats(ids: &[u32], levels: usize) -> (usize, usize) {
    let groups = tuple_groups(ids, levels);
    (groups.len(), groups.values().copied().max().unwrap_or(0))
}

/// Share of rows whose ID tuple no other row has (1 for no rows).
pub fn collision_free_rate(ids: &[u32], levels: usize) -> f64 {
    let n = ids.len() / levels;
    if n == 0 {
        return 1.0;
    }
    let alone = tuple_groups(ids, levels)
        .values()
        .filter(|&&c| c == 1)
        .count();
    alone as f64 / n as f64
}

fn tuple_groups(ids: &[u32], levels: usize) -> HashMap<&[u32], usize> {
    let mut groups: HashMap<&[u32], usize> = HashMap::new();
    for row in ids.chunks_exact(levels) {
        *groups.entry(row).or_default() += 1;
    }
    groups
}

/// Rows scaled to unit L2 norm (zero rows stay zero), so dot products are cosines.
fn normalized(x: &[f32], dim: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for row in out.chunks_exact_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    out
}

/// The `k` most cosine-similar rows of `x` to each query row, the query itself excluded;
/// ties go to the lower index.
pub fn top_k_neighbours(x: &[f32], dim: usize, queries: &[usize], k: usize) -> Vec<Vec<usize>> {
    let n = x.len() / dim;
    let unit = normalized(x, dim);
    const BLOCK: usize = 256;
    let mut out = Vec::with_capacity(queries.len());
    let mut sims = vec![0f32; BLOCK * n];
    let mut qbuf = vec![0f32; BLOCK * dim];
    for chunk in queries.chunks(BLOCK) {
        for (j, &q) in chunk.iter().enumerate() {
            qbuf[j * dim..(j + 1) * dim].copy_from_slice(&unit[q * dim..(q + 1) * dim]);
        }
        // sims[b × n] = Q[b × dim] · Xᵀ[dim × n]; Xᵀ is X read with swapped strides.
        unsafe {
            matrixmultiply::sgemm(
                chunk.len(),
                dim,
                n,
                1.0,
                qbuf.as_ptr(),
                dim as isize,
                1,
                unit.as_ptr(),
                1,
                dim as isize,
                0.0,
                sims.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        for (j, &q) in chunk.iter().enumerate() {
            let row = &sims[j * n..(j + 1) * n];
            let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
            for (i, &s) in row.iter().enumerate() {
                if i == q || (best.len() == k && s <= best[k - 1].0) {
                    continue;
                }
                let pos = best.partition_point(|&(bs, _)| bs >= s);
                best.insert(pos, (s, i));
                best.truncate(k);
            }
            out.push(best.into_iter().map(|(_, i)| i).collect());
        }
    }
    out
}

/// Mean of |A_q ∩ B_q| / k over query rows.
pub fn neighbour_overlap(a: &[Vec<usize>], b: &[Vec<usize>], k: usize) -> f64 {
    let total: usize = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.iter().filter(|i| y.contains(i)).count())
        .sum();
    total as f64 / (a.len() * k) as f64
}

/// Query items for the neighbour metrics: all, or a seeded sample without replacement.
pub fn sample_queries(n: usize, queries: Option<usize>, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    match queries {
        Some(q) if q < n => {
            let mut rng = StdRng::seed_from_u64(seed);
            all.shuffle(&mut rng);
            all.truncate(q);
            all.sort_unstable();
            all
        }
        _ => all,
    }
}

/// Share of uniformly random pairs (i ≠ j) with the same first code.
pub fn prefix1_random(ids: &[u32], levels: usize, pairs: usize, seed: u64) -> f64 {
    let n = ids.len() / levels;
    if n < 2 || pairs == 0 {
        return 0.0;
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut same = 0usize;
    for _ in 0..pairs {
        let i = rng.random_range(0..n);
        let mut j = rng.random_range(0..n - 1);
        if j >= i {
            j += 1;
        }
        same += (ids[i * levels] == ids[j * levels]) as usize;
    }
    same as f64 / pairs as f64
}

/// All metrics for inputs `x`, their reconstructions and their IDs (`[n, levels]` row-major).
pub fn evaluate(
    x: &[f32],
    reconstruction: &[f32],
    dim: usize,
    ids: &[u32],
    levels: usize,
    codebook_size: usize,
    options: EvalOptions,
) -> Metrics {
    const K: usize = 5;
    let n = x.len() / dim;
    let queries = sample_queries(n, options.queries, options.seed);
    let nn_input = top_k_neighbours(x, dim, &queries, K);
    let nn_recon = top_k_neighbours(reconstruction, dim, &queries, K);
    let prefix1_nn = queries
        .iter()
        .zip(&nn_input)
        .filter(|(&q, nn)| {
            nn.first()
                .is_some_and(|&m| ids[m * levels] == ids[q * levels])
        })
        .count() as f64
        / queries.len() as f64;
    let (cosine_mean, cosine_p50) = cosine_stats(x, reconstruction, dim);
    let (unique_tuples, max_items_per_tuple) = tuple_stats(ids, levels);
    Metrics {
        items: n,
        levels: level_usage(ids, levels, codebook_size),
        cosine_mean,
        cosine_p50,
        nn_overlap_at_5: neighbour_overlap(&nn_input, &nn_recon, K),
        unique_tuples,
        unique_fraction: unique_tuples as f64 / n as f64,
        max_items_per_tuple,
        collision_free_rate: collision_free_rate(ids, levels),
        prefix1_nn,
        prefix1_random: prefix1_random(ids, levels, options.random_pairs, options.seed),
        queries: queries.len(),
        random_pairs: options.random_pairs,
        anisotropy: anisotropy::measure(
            x,
            dim,
            options.random_pairs.min(anisotropy::PAIRS),
            options.seed,
        ),
        input_centred: false,
    }
}

/// The per-level lines of a human-readable report: usage, perplexity, Gini, entropy ratio.
pub(crate) fn level_lines(levels: &[LevelUsage], line: &mut impl FnMut(&str, String)) {
    for (l, u) in levels.iter().enumerate() {
        line(
            &format!("level {l}: used / dead / perplexity"),
            format!(
                "{} / {} ({:.1} %) / {:.1}",
                u.used,
                u.dead,
                100.0 * u.utilisation,
                u.perplexity
            ),
        );
        line(
            &format!("level {l}: Gini / entropy ratio"),
            format!("{:.4} / {:.4}", u.gini, u.entropy_ratio),
        );
    }
}

impl Metrics {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: String| s.push_str(&format!("{k:<34} {v}\n"));
        line("items", self.items.to_string());
        level_lines(&self.levels, &mut line);
        line(
            "cosine(input, reconstruction)",
            format!("mean {:.4}, p50 {:.4}", self.cosine_mean, self.cosine_p50),
        );
        line(
            "NN overlap@5",
            format!("{:.4} ({} queries)", self.nn_overlap_at_5, self.queries),
        );
        line(
            "unique tuples",
            format!(
                "{} / {} ({:.2} %), largest group {}",
                self.unique_tuples,
                self.items,
                100.0 * self.unique_fraction,
                self.max_items_per_tuple
            ),
        );
        line(
            "collision-free rate",
            format!("{:.2} %", 100.0 * self.collision_free_rate),
        );
        line(
            "prefix-1 coincidence NN / random",
            format!("{:.4} / {:.4}", self.prefix1_nn, self.prefix1_random),
        );
        line(
            "input: pair cosine / top direction",
            format!(
                "{:.4} / {:.4}{}",
                self.anisotropy.mean_pair_cosine,
                self.anisotropy.top_direction_share,
                if self.input_centred {
                    " (the model centres them)"
                } else {
                    ""
                }
            ),
        );
        for warning in self.warnings() {
            s.push_str(&format!("warning: {warning}\n"));
        }
        s
    }

    /// What the figures say is wrong, in words: embeddings dominated by one direction, and
    /// codes that keep (almost) none of the items' neighbours.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.anisotropy.is_anisotropic() && !self.input_centred {
            out.push(format!(
                "the input embeddings share one strong direction (random pairs have cosine {:.2}; \
                 above {} counts as anisotropic, as with E5, BGE or GTE) and the model takes them \
                 as they are, so its quantizer sees mostly that direction: train with \
                 --input-transform auto (the default) or center",
                self.anisotropy.mean_pair_cosine,
                anisotropy::ANISOTROPIC_COSINE
            ));
        }
        // With 6 items or fewer, every other item is among each one's 5 neighbours: nothing
        // to warn about.
        if self.items > 6 && self.nn_overlap_at_5 < near_random_overlap(self.items) {
            out.push(format!(
                "NN overlap@5 is {:.4}, near what random reconstructions give: the IDs do not \
                 follow the items' neighbours",
                self.nn_overlap_at_5
            ));
        }
        out
    }
}

/// The NN overlap@5 under which a model is reported as keeping no neighbours: three times what
/// unrelated neighbour lists share by chance (`5 / (n − 1)`), between 0.02 and 0.5.
pub fn near_random_overlap(items: usize) -> f64 {
    (3.0 * 5.0 / items.saturating_sub(1).max(1) as f64).clamp(0.02, 0.5)
}
