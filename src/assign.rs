//! Giving items IDs in an [`IdTable`]: collision resolution and incremental assignment.
//!
//! Items are served in their row order, after every item already in the table. Each gets the
//! model's nearest codes (the canonical computation, [`crate::canonical`]). If another item
//! already holds that (A, B, C):
//! - with [`Resolution::Reassign`] it moves to the best-scoring free last-level code under the
//!   same (A, B), by the model's own last-level scores (ties: lower code first), so the semantic
//!   prefix never changes; only when all of them are taken does it keep its nearest codes;
//! - the disambiguation code is then one above the highest already used by that tuple (0 for a
//!   free tuple), so the full ID is unique.
//!
//! Because items are served in order and existing lines never change, assigning rows 0..n in
//! one go gives the same table as assigning 0..k and then adding k..n.

use crate::canonical;
use crate::embeddings::Embeddings;
use crate::host_model::HostModel;
use crate::id_quality::table_quality;
use crate::id_table::{IdTable, ItemId, Resolution, TableEntry, TableError};
use crate::metrics::cosine;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Choices for [`assign`] beyond the table's own policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignOptions {
    /// Re-assign items already in the table whose embedding now gives other nearest codes
    /// (their old ID is released). Off: they keep their ID and are only reported.
    pub reassign_changed: bool,
}

/// What re-assignment cost in reconstruction, over the rows given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReassignCost {
    /// Mean cosine(input, decode(nearest codes)) over every row given.
    pub cosine_nearest: f64,
    /// Mean cosine(input, decode(assigned codes)) over every row given.
    pub cosine_assigned: f64,
    /// The same two means over the moved rows only (0 when none moved).
    pub moved_cosine_nearest: f64,
    pub moved_cosine_assigned: f64,
}

/// What one call of [`assign`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignReport {
    /// Rows given.
    pub rows: usize,
    /// Items new to the table.
    pub added: usize,
    /// Items already in the table that kept their ID.
    pub kept: usize,
    /// Ids already in the table whose embedding now gives other nearest codes.
    pub changed: Vec<ItemId>,
    /// Of those, how many were re-assigned (only with `reassign_changed`).
    pub reassigned_changed: usize,
    /// Items given an ID now that were moved off their nearest last-level code.
    pub moved: usize,
    /// Items given an ID now whose disambiguation code is above 0.
    pub suffixed: usize,
    /// Items in the table afterwards.
    pub table_items: usize,
    /// Distinct nearest (A, B, C) tuples / items, over the whole table: before resolution.
    pub unique_nearest: f64,
    /// Distinct assigned tuples / items: after resolution.
    pub unique_assigned: f64,
    /// Distinct full IDs / items (1 unless the table is corrupt).
    pub unique_full: f64,
    /// Reconstruction cost of re-assignment; `None` for a model without a decoder.
    pub cost: Option<ReassignCost>,
}

impl serde::Serialize for ItemId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// Gives every row of `x` (item `ids[row]`) an ID in `table`, which must have been made by
/// `host`'s model. Existing lines never change, except those of changed items when
/// `options.reassign_changed` asks for it. On error the table is unchanged.
pub fn assign(
    table: &mut IdTable,
    host: &HostModel,
    x: &Embeddings,
    ids: &[ItemId],
    options: AssignOptions,
) -> Result<AssignReport, TableError> {
    let header = table.header().clone();
    table.check_model(host.fingerprint(), host.levels(), host.codebook_size())?;
    if x.dim() != host.input_dim() {
        return Err(TableError::Dim {
            expected: host.input_dim(),
            found: x.dim(),
        });
    }
    if ids.len() != x.rows() {
        return Err(TableError::IdCount {
            ids: ids.len(),
            rows: x.rows(),
        });
    }
    let mut row_of: HashMap<&ItemId, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = row_of.insert(id, row) {
            return Err(TableError::DuplicateInputId {
                id: id.to_string(),
                first,
                second: row,
            });
        }
    }

    let levels = header.levels;
    let nearest = canonical::encode(host, x);
    let tuple = |r: usize| &nearest[r * levels..(r + 1) * levels];

    // Existing ids keep their line; changed ones are reported, and re-served only if asked.
    let mut serve = Vec::new();
    let mut changed = Vec::new();
    for (r, id) in ids.iter().enumerate() {
        match table.position(id) {
            Some(pos) => {
                if table.entries()[pos].nearest() != tuple(r) {
                    changed.push(id.clone());
                    if options.reassign_changed {
                        serve.push(r);
                    }
                }
            }
            None => serve.push(r),
        }
    }
    if options.reassign_changed {
        for &r in &serve {
            if let Some(pos) = table.position(&ids[r]) {
                table.release(pos);
            }
        }
    }

    // Last-level scores for rows that will find their tuple taken: those whose tuple is held
    // already or by an earlier row. (A row can also lose its tuple to an earlier row that was
    // moved onto it; such rows get their scores when served.)
    let mut scores: HashMap<usize, Vec<f32>> = HashMap::new();
    if header.resolution == Resolution::Reassign {
        let mut seen = HashSet::new();
        let need: Vec<usize> = serve
            .iter()
            .copied()
            .filter(|&r| table.tuple_taken(tuple(r)) | !seen.insert(tuple(r)))
            .collect();
        scores = last_level_scores(host, x, &need);
    }

    let (mut moved, mut suffixed) = (0, 0);
    for &r in &serve {
        let near = tuple(r).to_vec();
        let mut codes = near.clone();
        let mut reassigned_from = None;
        if table.tuple_taken(&near) && header.resolution == Resolution::Reassign {
            let row_scores = scores
                .entry(r)
                .or_insert_with(|| last_level_scores(host, x, &[r]).remove(&r).unwrap());
            let mut candidate = near.clone();
            if let Some(free) = ranked(row_scores).into_iter().find(|&c| {
                candidate[levels - 1] = c;
                !table.tuple_taken(&candidate)
            }) {
                codes[levels - 1] = free;
                reassigned_from = Some(near[levels - 1]);
                moved += 1;
            }
        }
        let suffix = table.next_suffix(&codes);
        suffixed += usize::from(suffix > 0);
        codes.push(suffix);
        match table.position(&ids[r]) {
            Some(pos) => table.replace(pos, codes, reassigned_from),
            None => table.push(TableEntry {
                id: ids[r].clone(),
                codes,
                reassigned_from,
            }),
        }
    }

    let quality = table_quality(table);
    let assigned: Vec<u32> = ids
        .iter()
        .flat_map(|id| {
            table
                .get(id)
                .expect("every row is in the table")
                .tuple()
                .to_vec()
        })
        .collect();
    let reassigned_changed = if options.reassign_changed {
        changed.len()
    } else {
        0
    };
    Ok(AssignReport {
        rows: x.rows(),
        added: serve.len() - reassigned_changed,
        kept: x.rows() - serve.len(),
        changed,
        reassigned_changed,
        moved,
        suffixed,
        table_items: table.len(),
        unique_nearest: quality.unique_nearest_fraction,
        unique_assigned: quality.unique_fraction,
        unique_full: quality.unique_full_fraction,
        cost: reassign_cost(host, x, &nearest, &assigned),
    })
}

/// Last-level scores of `rows`, computed by the canonical path on just those rows.
fn last_level_scores(host: &HostModel, x: &Embeddings, rows: &[usize]) -> HashMap<usize, Vec<f32>> {
    if rows.is_empty() {
        return HashMap::new();
    }
    let (_, scores) = host.encode_with_last_scores(&x.gather(rows), rows.len());
    let k = host.codebook_size();
    rows.iter()
        .zip(scores.chunks_exact(k))
        .map(|(&r, s)| (r, s.to_vec()))
        .collect()
}

/// Codes from best (lowest score) to worst; equal scores in code order, as `argmin` breaks ties.
fn ranked(scores: &[f32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_by(|&a, &b| {
        scores[a as usize]
            .total_cmp(&scores[b as usize])
            .then(a.cmp(&b))
    });
    order
}

fn reassign_cost(
    host: &HostModel,
    x: &Embeddings,
    nearest: &[u32],
    assigned: &[u32],
) -> Option<ReassignCost> {
    let levels = host.levels();
    let dim = x.dim();
    let near_recon = host.decode(nearest)?;
    let moved: Vec<usize> = (0..x.rows())
        .filter(|&r| {
            nearest[r * levels..(r + 1) * levels] != assigned[r * levels..(r + 1) * levels]
        })
        .collect();
    let moved_ids: Vec<u32> = moved
        .iter()
        .flat_map(|&r| assigned[r * levels..(r + 1) * levels].to_vec())
        .collect();
    let moved_recon = host.decode(&moved_ids)?;
    let near_cos: Vec<f64> = (0..x.rows())
        .map(|r| cosine(x.row(r), &near_recon[r * dim..(r + 1) * dim]))
        .collect();
    let moved_cos: Vec<f64> = moved
        .iter()
        .enumerate()
        .map(|(i, &r)| cosine(x.row(r), &moved_recon[i * dim..(i + 1) * dim]))
        .collect();
    let rows = x.rows() as f64;
    let near_sum: f64 = near_cos.iter().sum();
    let moved_near_sum: f64 = moved.iter().map(|&r| near_cos[r]).sum();
    let moved_sum: f64 = moved_cos.iter().sum();
    let per_moved = |s: f64| {
        if moved.is_empty() {
            0.0
        } else {
            s / moved.len() as f64
        }
    };
    Some(ReassignCost {
        cosine_nearest: near_sum / rows,
        cosine_assigned: (near_sum - moved_near_sum + moved_sum) / rows,
        moved_cosine_nearest: per_moved(moved_near_sum),
        moved_cosine_assigned: per_moved(moved_sum),
    })
}
