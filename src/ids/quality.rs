//! The quality report of an ID table, and the churn between two tables.
//!
//! Measures as in [`crate::metrics`]: per-level usage, perplexity, Gini and entropy ratio of the
//! assigned codes; 3-code uniqueness (distinct (A, B, C) / items), the collision-free rate and
//! the largest group sharing a tuple; full-ID uniqueness (with the disambiguation code). Churn
//! between a previous and a current table: the share of ids present in both whose full ID
//! differs.

use crate::ids::table::{Entry, IdTable};
use crate::metrics::{level_lines, usage_of_counts, LevelUsage};
use serde::Serialize;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableQuality {
    pub items: usize,
    /// Per level, of the assigned codes.
    pub levels: Vec<LevelUsage>,
    /// Distinct assigned (A, B, C) tuples / items.
    pub unique_fraction: f64,
    /// Distinct nearest tuples / items: what the model gave before collision resolution.
    pub unique_nearest_fraction: f64,
    /// Share of items whose assigned tuple no other item has.
    pub collision_free_rate: f64,
    /// The most items sharing one assigned tuple.
    pub largest_group: usize,
    /// Distinct full IDs (tuple + disambiguation code) / items.
    pub unique_full_fraction: f64,
    /// Items moved off their nearest last-level code.
    pub moved: usize,
    /// Items whose disambiguation code is above 0.
    pub suffixed: usize,
}

/// Share of ids present in both tables whose full ID differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Churn {
    pub common: usize,
    pub changed: usize,
    /// `changed / common` (0 when nothing is in common).
    pub churn: f64,
    /// Ids only in the previous table (removed) and only in the current one (added).
    pub only_previous: usize,
    pub only_current: usize,
}

pub fn table_quality(table: &IdTable) -> TableQuality {
    let h = table.header();
    let n = table.len();
    let share = |count: usize| if n == 0 { 1.0 } else { count as f64 / n as f64 };
    let mut counts = vec![vec![0usize; h.codebook_size]; h.levels];
    let (mut moved, mut suffixed) = (0, 0);
    for e in table.entries() {
        for (level, &c) in e.tuple().iter().enumerate() {
            counts[level][c as usize] += 1;
        }
        moved += usize::from(e.reassigned_from.is_some());
        suffixed += usize::from(e.suffix() > 0);
    }
    // Groups are counted over positions sorted by the codes compared, a few bytes per item:
    // tables reach 10⁸ items, where a map of tuples would cost tens of bytes each.
    let assigned = groups(n, |a, b| table.entry(a).tuple().cmp(table.entry(b).tuple()));
    let nearest = groups(n, |a, b| nearest_cmp(table.entry(a), table.entry(b)));
    let full = groups(n, |a, b| table.entry(a).codes.cmp(table.entry(b).codes));
    TableQuality {
        items: n,
        levels: counts.iter().map(|c| usage_of_counts(c)).collect(),
        unique_fraction: share(assigned.distinct),
        unique_nearest_fraction: share(nearest.distinct),
        collision_free_rate: if n == 0 {
            1.0
        } else {
            assigned.alone as f64 / n as f64
        },
        largest_group: assigned.largest,
        unique_full_fraction: share(full.distinct),
        moved,
        suffixed,
    }
}

/// The nearest tuples of two entries compared, without building them.
fn nearest_cmp(a: Entry<'_>, b: Entry<'_>) -> Ordering {
    let (ta, tb) = (a.tuple(), b.tuple());
    let last = ta.len() - 1;
    ta[..last].cmp(&tb[..last]).then_with(|| {
        let na = a.reassigned_from.unwrap_or(ta[last]);
        let nb = b.reassigned_from.unwrap_or(tb[last]);
        na.cmp(&nb)
    })
}

/// How `n` items fall into groups of equal keys.
struct Groups {
    distinct: usize,
    largest: usize,
    /// Items alone in their group.
    alone: usize,
}

/// Groups of equal keys among items `0..n`, with `cmp` ordering two items by their keys.
fn groups(n: usize, cmp: impl Fn(usize, usize) -> Ordering) -> Groups {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| cmp(a as usize, b as usize));
    let mut g = Groups {
        distinct: 0,
        largest: 0,
        alone: 0,
    };
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len() || cmp(order[start] as usize, order[i] as usize) != Ordering::Equal {
            let size = i - start;
            g.distinct += 1;
            g.largest = g.largest.max(size);
            g.alone += usize::from(size == 1);
            start = i;
        }
    }
    g
}

pub fn churn(previous: &IdTable, current: &IdTable) -> Churn {
    let mut common = 0;
    let mut changed = 0;
    for e in current.entries() {
        if let Some(old) = previous.get(&e.id) {
            common += 1;
            changed += usize::from(old.codes != e.codes);
        }
    }
    Churn {
        common,
        changed,
        churn: if common == 0 {
            0.0
        } else {
            changed as f64 / common as f64
        },
        only_previous: previous.len() - common,
        only_current: current.len() - common,
    }
}

impl TableQuality {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: String| s.push_str(&format!("{k:<34} {v}\n"));
        line("items", self.items.to_string());
        level_lines(&self.levels, &mut line);
        let pct = |v: f64| format!("{:.2} %", 100.0 * v);
        line(
            "3-code unique, nearest codes",
            pct(self.unique_nearest_fraction),
        );
        line("3-code unique, assigned", pct(self.unique_fraction));
        line("collision-free rate", pct(self.collision_free_rate));
        line("largest collision group", self.largest_group.to_string());
        line("full IDs unique", pct(self.unique_full_fraction));
        line(
            "moved / suffixed items",
            format!("{} / {}", self.moved, self.suffixed),
        );
        s
    }
}
