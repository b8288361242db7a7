//! The quality report of an ID table, and the churn between two tables.
//!
//! Measures as in [`crate::metrics`]: per-level usage, perplexity, Gini and entropy ratio of the
//! assigned codes; 3-code uniqueness (distinct (A, B, C) / items), the collision-free rate and
//! the largest group sharing a tuple; full-ID uniqueness (with the disambiguation code). Churn
//! between a previous and a current table: the share of ids present in both whose full ID
//! differs.

use crate::ids::table::{IdTable, TableEntry};
use crate::metrics::{collision_free_rate, level_lines, level_usage, tuple_stats, LevelUsage};
use serde::Serialize;
use std::collections::HashSet;

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
    let entries = table.entries();
    let n = entries.len();
    let tuples: Vec<u32> = entries.iter().flat_map(|e| e.tuple().to_vec()).collect();
    let nearest: Vec<u32> = entries.iter().flat_map(TableEntry::nearest).collect();
    let share = |count: usize| if n == 0 { 1.0 } else { count as f64 / n as f64 };
    let (unique, largest_group) = tuple_stats(&tuples, h.levels);
    let (unique_nearest, _) = tuple_stats(&nearest, h.levels);
    let full: HashSet<&[u32]> = entries.iter().map(|e| &e.codes[..]).collect();
    TableQuality {
        items: n,
        levels: level_usage(&tuples, h.levels, h.codebook_size),
        unique_fraction: share(unique),
        unique_nearest_fraction: share(unique_nearest),
        collision_free_rate: collision_free_rate(&tuples, h.levels),
        largest_group,
        unique_full_fraction: share(full.len()),
        moved: entries
            .iter()
            .filter(|e| e.reassigned_from.is_some())
            .count(),
        suffixed: entries.iter().filter(|e| e.suffix() > 0).count(),
    }
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
