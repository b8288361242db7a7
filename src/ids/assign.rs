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
use crate::ids::item_ids::ItemIds;
use crate::ids::quality::table_quality;
use crate::ids::table::{IdTable, ItemId, Resolution, TableEntry, TableError};
use crate::metrics::cosine;
use hashbrown::HashTable;
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
    let ids = ItemIds::from(ids);
    let mut run = Assignment::plan(table, host, &nearest, &ids, options)?;
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
    ids: &'a ItemIds,
    nearest: &'a [u32],
    levels: usize,
    resolution: Resolution,
    /// Rows that get an ID now, ascending.
    serve: Vec<u32>,
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
        ids: &'a ItemIds,
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
        check_unique_ids(ids)?;
        let tuple = |r: usize| &nearest[r * levels..(r + 1) * levels];

        // Existing ids keep their line; changed ones are reported, and re-served only if asked.
        let mut serve = Vec::new();
        let mut changed = Vec::new();
        let mut released = Vec::new();
        for (r, id) in ids.iter().enumerate() {
            match table.position(&id) {
                Some(pos) => {
                    if table.entry(pos).nearest() != tuple(r) {
                        changed.push(id);
                        if options.reassign_changed {
                            serve.push(r as u32);
                            released.push(pos);
                        }
                    }
                }
                None => serve.push(r as u32),
            }
        }
        table.release(&released);
        table.reserve(serve.len() - released.len());
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
        let lo = self.serve.partition_point(|&r| (r as usize) < first);
        let hi = self.serve.partition_point(|&r| (r as usize) < end);
        let serve = &self.serve[lo..hi];

        // Last-level scores for rows that will find their tuple taken: those whose tuple is held
        // already or by an earlier row. (A row can also lose its tuple to an earlier row that was
        // moved onto it; such rows get their scores when served.)
        let mut scores: HashMap<usize, Vec<f32>> = HashMap::new();
        if self.resolution == Resolution::Reassign {
            let mut seen = HashSet::new();
            let need: Vec<usize> = serve
                .iter()
                .map(|&r| r as usize)
                .filter(|&r| table.tuple_taken(tuple(r)) | !seen.insert(tuple(r)))
                .map(|r| r - first)
                .collect();
            scores = last_level_scores(host, x, &need);
        }

        for r in serve.iter().map(|&r| r as usize) {
            let (codes, reassigned_from) = place(table, self.resolution, tuple(r), || {
                let row_scores = scores.entry(r - first).or_insert_with(|| {
                    last_level_scores(host, x, &[r - first])
                        .remove(&(r - first))
                        .unwrap()
                });
                ranked(row_scores)
            });
            self.moved += usize::from(reassigned_from.is_some());
            self.suffixed += usize::from(codes[levels] > 0);
            let id = self.ids.get(r);
            match table.position(&id) {
                Some(pos) => table.replace(pos, codes, reassigned_from),
                None => table.push(TableEntry {
                    id,
                    codes,
                    reassigned_from,
                }),
            }
        }

        if let Some(sums) = self.cost.as_mut() {
            let assigned: Vec<u32> = (first..end)
                .flat_map(|r| {
                    table
                        .get(&self.ids.get(r))
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

/// The full ID of an item whose nearest codes are `near`, given the table so far, and the
/// nearest last-level code it was moved off (if it was). `ranking` gives the item's last-level
/// codes from best to worst; it is asked for only when the tuple is taken and the policy may
/// move the item. Everything it reads is under the item's (A, B) prefix: tuples and
/// disambiguation codes of that prefix only.
fn place(
    table: &IdTable,
    resolution: Resolution,
    near: &[u32],
    ranking: impl FnOnce() -> Vec<u32>,
) -> (Vec<u32>, Option<u32>) {
    let last = near.len() - 1;
    let mut codes = near.to_vec();
    let mut reassigned_from = None;
    if resolution == Resolution::Reassign && table.tuple_taken(near) {
        let mut candidate = near.to_vec();
        if let Some(free) = ranking().into_iter().find(|&c| {
            candidate[last] = c;
            !table.tuple_taken(&candidate)
        }) {
            codes[last] = free;
            reassigned_from = Some(near[last]);
        }
    }
    let suffix = table.next_suffix(&codes);
    codes.push(suffix);
    (codes, reassigned_from)
}

/// Fails if an id is given to two rows.
fn check_unique_ids(ids: &ItemIds) -> Result<(), TableError> {
    let hasher = hashbrown::DefaultHashBuilder::default();
    let mut seen: HashTable<u32> = HashTable::with_capacity(ids.len());
    for row in 0..ids.len() {
        let hash = ids.hash_at(row, &hasher);
        let id = ids.get(row);
        if let Some(&first) = seen.find(hash, |&r| ids.eq_at(r as usize, &id)) {
            return Err(TableError::DuplicateInputId {
                id: id.to_string(),
                first: first as usize,
                second: row,
            });
        }
        seen.insert_unique(hash, row as u32, |&r| ids.hash_at(r as usize, &hasher));
    }
    Ok(())
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

/// Every row's nearest codes (`levels` per row, as [`canonical::encode`] gives them) and its
/// last-level codes from best to worst by the model's own scores (`codebook_size` per row):
/// what [`resolve_group`] needs to place the row without the model or the embedding.
pub fn encode_ranked(host: &HostModel, x: &Embeddings) -> (Vec<u32>, Vec<u16>) {
    assert!(
        host.codebook_size() <= 1 << 16,
        "rankings are held as u16 codes"
    );
    let (nearest, scores) = host.encode_with_last_scores(x.as_slice(), x.rows());
    let ranking = scores
        .chunks_exact(host.codebook_size())
        .flat_map(|row| ranked(row).into_iter().map(|c| c as u16))
        .collect();
    (nearest, ranking)
}

/// Full IDs given by [`resolve_group`], one row each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// `levels` codes then the disambiguation code, per row.
    pub codes: Vec<u32>,
    /// The nearest last-level code of each row that was moved off it.
    pub reassigned_from: Vec<Option<u32>>,
}

/// Collision resolution of one (A, B) prefix group on its own: the full IDs that [`assign`]
/// gives rows whose nearest codes are `nearest` (`levels` per row, in row order), in a table
/// whose entries under the same prefixes hold `existing` (full IDs, `levels + 1` per entry).
/// `ranking` is each row's [`encode_ranked`] ranking (`codebook_size` per row).
///
/// Resolution reads and writes only tuples and disambiguation codes under the row's own
/// (A, B) prefix, so a catalog split into whole prefix groups can be resolved group by group,
/// on different machines, and gives the same IDs as one pass over every row. The rows may
/// span several groups as long as each group is whole.
pub fn resolve_group(
    levels: usize,
    codebook_size: usize,
    resolution: Resolution,
    existing: &[u32],
    nearest: &[u32],
    ranking: &[u16],
) -> Result<Placed, TableError> {
    let bad = |message: String| TableError::Group { message };
    if levels == 0
        || !existing.len().is_multiple_of(levels + 1)
        || !nearest.len().is_multiple_of(levels)
    {
        return Err(bad(format!(
            "existing IDs must hold {} codes per entry and nearest codes {levels} per row",
            levels + 1
        )));
    }
    let rows = nearest.len() / levels;
    if ranking.len() != rows * codebook_size {
        return Err(bad(format!(
            "{rows} rows need {} ranking codes ({codebook_size} per row), found {}",
            rows * codebook_size,
            ranking.len()
        )));
    }
    let out_of_range = |c: u32| c as usize >= codebook_size;
    let ranked_codes = ranking.iter().map(|&c| u32::from(c));
    if let Some(c) = nearest
        .iter()
        .copied()
        .chain(ranked_codes)
        .find(|&c| out_of_range(c))
    {
        return Err(bad(format!(
            "code {c} is outside the codebook (size {codebook_size})"
        )));
    }
    let mut table = IdTable::new("", levels, codebook_size, resolution)?;
    table.reserve(existing.len() / (levels + 1) + rows);
    for (i, codes) in existing.chunks_exact(levels + 1).enumerate() {
        if table.next_suffix(&codes[..levels]) > codes[levels]
            && table.entries().any(|e| e.codes == codes)
        {
            return Err(bad(format!("existing ID {codes:?} is given twice")));
        }
        table.push(TableEntry {
            id: ItemId::Int(-1 - i as i64),
            codes: codes.to_vec(),
            reassigned_from: None,
        });
    }
    let mut placed = Placed {
        codes: Vec::with_capacity(rows * (levels + 1)),
        reassigned_from: Vec::with_capacity(rows),
    };
    for r in 0..rows {
        let near = &nearest[r * levels..(r + 1) * levels];
        let row_ranking = &ranking[r * codebook_size..(r + 1) * codebook_size];
        let (codes, reassigned_from) = place(&table, resolution, near, || {
            row_ranking.iter().map(|&c| u32::from(c)).collect()
        });
        placed.codes.extend_from_slice(&codes);
        placed.reassigned_from.push(reassigned_from);
        table.push(TableEntry {
            id: ItemId::Int(r as i64),
            codes,
            reassigned_from,
        });
    }
    Ok(placed)
}
