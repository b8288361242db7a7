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

use crate::embeddings::Embeddings;
use crate::host::model::HostModel;
use crate::ids::canonical;
use crate::ids::quality::table_quality;
use crate::ids::table::{IdTable, ItemId, Resolution, TableEntry, TableError};
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
    /// Rows whose assigned (A, B, C) is not their nearest, moved now or before: the count the
    /// two moved means are over, so that reports of batches can be combined.
    pub moved_rows: usize,
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
    check_dim(host, x)?;
    let nearest = canonical::encode(host, x);
    let mut run = Assignment::plan(table, host, &nearest, ids, options)?;
    run.serve(table, host, x, 0);
    Ok(run.finish(table))
}

fn check_dim(host: &HostModel, x: &Embeddings) -> Result<(), TableError> {
    if x.dim() != host.input_dim() {
        return Err(TableError::Dim {
            expected: host.input_dim(),
            found: x.dim(),
        });
    }
    Ok(())
}

/// An assignment of rows too many to hold at once, in two passes over them: the caller computes
/// every row's nearest codes ([`canonical::encode`], chunk by chunk: they are small), then
/// [`Assignment::plan`] decides which rows get an ID, then [`Assignment::serve`] takes the rows'
/// embeddings chunk by chunk in row order. The table and the report equal [`assign`]'s on all the
/// rows at once: rows are served in the same order, with the same canonical scores (the
/// canonical computation gives the same bits for any batching), and the report's sums run over
/// the rows in the same order.
pub struct Assignment<'a> {
    ids: &'a [ItemId],
    nearest: &'a [u32],
    levels: usize,
    resolution: Resolution,
    /// Rows that get an ID now, ascending.
    serve: Vec<usize>,
    changed: Vec<ItemId>,
    reassigned_changed: usize,
    /// Rows served so far (a prefix of the input).
    next_row: usize,
    moved: usize,
    suffixed: usize,
    cost: Option<CostSums>,
}

/// Running sums behind [`ReassignCost`].
#[derive(Default)]
struct CostSums {
    near: f64,
    moved_near: f64,
    moved: f64,
    moved_rows: usize,
}

impl<'a> Assignment<'a> {
    /// Checks the table against the model and the ids against the rows, reports items whose
    /// nearest codes changed and, when asked to re-assign them, releases their IDs. `nearest`
    /// holds every row's canonical codes, row-major. On error the table is unchanged.
    pub fn plan(
        table: &mut IdTable,
        host: &HostModel,
        nearest: &'a [u32],
        ids: &'a [ItemId],
        options: AssignOptions,
    ) -> Result<Self, TableError> {
        let header = table.header().clone();
        table.check_model(host.fingerprint(), host.levels(), host.codebook_size())?;
        let levels = header.levels;
        let rows = nearest.len() / levels;
        if ids.len() != rows {
            return Err(TableError::IdCount {
                ids: ids.len(),
                rows,
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
        let reassigned_changed = if options.reassign_changed {
            changed.len()
        } else {
            0
        };
        Ok(Self {
            ids,
            nearest,
            levels,
            resolution: header.resolution,
            serve,
            changed,
            reassigned_changed,
            next_row: 0,
            moved: 0,
            suffixed: 0,
            cost: host.has_decoder().then(CostSums::default),
        })
    }

    /// Serves rows `first..first + x.rows()`, whose embeddings `x` holds; chunks must come in
    /// row order, each starting where the last ended.
    pub fn serve(&mut self, table: &mut IdTable, host: &HostModel, x: &Embeddings, first: usize) {
        assert_eq!(first, self.next_row, "chunks must be served in row order");
        let end = first + x.rows();
        assert!(end <= self.ids.len(), "more rows than ids");
        let levels = self.levels;
        let nearest = self.nearest;
        let tuple = |r: usize| &nearest[r * levels..(r + 1) * levels];
        let lo = self.serve.partition_point(|&r| r < first);
        let hi = self.serve.partition_point(|&r| r < end);
        let serve = &self.serve[lo..hi];

        // Last-level scores for rows that will find their tuple taken: those whose tuple is held
        // already or by an earlier row. (A row can also lose its tuple to an earlier row that was
        // moved onto it; such rows get their scores when served.)
        let mut scores: HashMap<usize, Vec<f32>> = HashMap::new();
        if self.resolution == Resolution::Reassign {
            let mut seen = HashSet::new();
            let need: Vec<usize> = serve
                .iter()
                .copied()
                .filter(|&r| table.tuple_taken(tuple(r)) | !seen.insert(tuple(r)))
                .map(|r| r - first)
                .collect();
            scores = last_level_scores(host, x, &need);
        }

        for &r in serve {
            let near = tuple(r).to_vec();
            let mut codes = near.clone();
            let mut reassigned_from = None;
            if table.tuple_taken(&near) && self.resolution == Resolution::Reassign {
                let row_scores = scores.entry(r - first).or_insert_with(|| {
                    last_level_scores(host, x, &[r - first])
                        .remove(&(r - first))
                        .unwrap()
                });
                let mut candidate = near.clone();
                if let Some(free) = ranked(row_scores).into_iter().find(|&c| {
                    candidate[levels - 1] = c;
                    !table.tuple_taken(&candidate)
                }) {
                    codes[levels - 1] = free;
                    reassigned_from = Some(near[levels - 1]);
                    self.moved += 1;
                }
            }
            let suffix = table.next_suffix(&codes);
            self.suffixed += usize::from(suffix > 0);
            codes.push(suffix);
            match table.position(&self.ids[r]) {
                Some(pos) => table.replace(pos, codes, reassigned_from),
                None => table.push(TableEntry {
                    id: self.ids[r].clone(),
                    codes,
                    reassigned_from,
                }),
            }
        }

        if let Some(sums) = self.cost.as_mut() {
            let assigned: Vec<u32> = self.ids[first..end]
                .iter()
                .flat_map(|id| {
                    table
                        .get(id)
                        .expect("every row is in the table")
                        .tuple()
                        .to_vec()
                })
                .collect();
            add_cost(
                sums,
                host,
                x,
                &nearest[first * levels..end * levels],
                &assigned,
            );
        }
        self.next_row = end;
    }

    /// The report, once every row has been served.
    pub fn finish(self, table: &IdTable) -> AssignReport {
        let rows = self.ids.len();
        assert_eq!(self.next_row, rows, "rows left unserved");
        let quality = table_quality(table);
        AssignReport {
            rows,
            added: self.serve.len() - self.reassigned_changed,
            kept: rows - self.serve.len(),
            changed: self.changed,
            reassigned_changed: self.reassigned_changed,
            moved: self.moved,
            suffixed: self.suffixed,
            table_items: table.len(),
            unique_nearest: quality.unique_nearest_fraction,
            unique_assigned: quality.unique_fraction,
            unique_full: quality.unique_full_fraction,
            cost: self.cost.map(|sums| {
                let per_moved = |s: f64| {
                    if sums.moved_rows == 0 {
                        0.0
                    } else {
                        s / sums.moved_rows as f64
                    }
                };
                ReassignCost {
                    cosine_nearest: sums.near / rows as f64,
                    cosine_assigned: (sums.near - sums.moved_near + sums.moved) / rows as f64,
                    moved_cosine_nearest: per_moved(sums.moved_near),
                    moved_cosine_assigned: per_moved(sums.moved),
                    moved_rows: sums.moved_rows,
                }
            }),
        }
    }
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

/// Adds rows' reconstruction cosines to the running sums, row by row in order (so that the sums
/// do not depend on how rows were chunked). Needs a decoder.
fn add_cost(
    sums: &mut CostSums,
    host: &HostModel,
    x: &Embeddings,
    nearest: &[u32],
    assigned: &[u32],
) {
    let levels = host.levels();
    let dim = x.dim();
    let Some(near_recon) = host.decode(nearest) else {
        return;
    };
    let moved: Vec<usize> = (0..x.rows())
        .filter(|&r| {
            nearest[r * levels..(r + 1) * levels] != assigned[r * levels..(r + 1) * levels]
        })
        .collect();
    let moved_ids: Vec<u32> = moved
        .iter()
        .flat_map(|&r| assigned[r * levels..(r + 1) * levels].to_vec())
        .collect();
    let moved_recon = host.decode(&moved_ids).unwrap_or_default();
    let near_cos: Vec<f64> = (0..x.rows())
        .map(|r| cosine(x.row(r), &near_recon[r * dim..(r + 1) * dim]))
        .collect();
    for c in &near_cos {
        sums.near += c;
    }
    for (i, &r) in moved.iter().enumerate() {
        sums.moved_near += near_cos[r];
        sums.moved += cosine(x.row(r), &moved_recon[i * dim..(i + 1) * dim]);
    }
    sums.moved_rows += moved.len();
}
