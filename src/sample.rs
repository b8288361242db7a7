//! A uniform random sample of rows drawn while a file is read in chunks (reservoir sampling), so
//! that a catalog larger than memory can still be trained on: memory holds the sample and one
//! chunk, never the file.
//!
//! The rows come from any [`RowChunks`] source: [`NpyRowReader`] implements it, and so does any
//! closure `FnMut(max_rows) -> Result<Option<(first_row, Embeddings)>, E>`, so another reader
//! (Parquet, a database cursor) plugs in without this module knowing it.
//!
//! The draw is reservoir sampling's Algorithm R (Vitter, 1985): the first `n` rows fill the
//! reservoir, and each later row `i` (counted from 0) replaces a uniformly chosen slot with
//! probability `n / (i + 1)`, which leaves every `n`-subset of the rows equally likely. The random
//! numbers come from a [`StdRng`] seeded with the caller's seed and are drawn one per row in file
//! order, so a seed gives the same sample however the source cuts its chunks. The sample is
//! returned in file order, so training on it is as reproducible as training on a file that held
//! just those rows.

use crate::embeddings::Embeddings;
use crate::npy::{NpyFileError, NpyRowReader};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::num::NonZeroUsize;

/// A source of embeddings read in chunks of rows, in order.
pub trait RowChunks {
    type Error;

    /// The next at most `max_rows` rows and the index of the first, or `None` after the last.
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<(usize, Embeddings)>, Self::Error>;
}

impl<R: std::io::Read> RowChunks for NpyRowReader<R> {
    type Error = NpyFileError;

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<(usize, Embeddings)>, NpyFileError> {
        NpyRowReader::next_chunk(self, max_rows)
    }
}

impl<E, F> RowChunks for F
where
    F: FnMut(usize) -> Result<Option<(usize, Embeddings)>, E>,
{
    type Error = E;

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<(usize, Embeddings)>, E> {
        self(max_rows)
    }
}

/// Why a sample could not be drawn: the source's own error, or a source that broke the
/// [`RowChunks`] contract.
#[derive(Debug, thiserror::Error)]
pub enum SampleError<E> {
    #[error(transparent)]
    Source(E),
    #[error("no embeddings: the source has 0 rows")]
    Empty,
    #[error("rows {first}.. have dimension {found}, the rows before them {expected}")]
    DimChanged {
        first: usize,
        expected: usize,
        found: usize,
    },
    #[error("a chunk starts at row {found}, but {expected} rows were read before it")]
    OutOfOrder { expected: usize, found: usize },
}

/// Rows drawn from a source, in the source's order.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSample {
    /// The sampled rows, in the order the source gave them.
    pub rows: Embeddings,
    /// Each sampled row's index in the source, ascending.
    pub indices: Vec<usize>,
    /// Rows the source held in all.
    pub source_rows: usize,
}

impl RowSample {
    /// Whether every row of the source was kept (the sample asked for at least as many).
    pub fn is_whole(&self) -> bool {
        self.indices.len() == self.source_rows
    }
}

/// Draws `n` rows uniformly at random from `source`, reading it `chunk_rows` rows at a time:
/// every `n`-subset is equally likely, `seed` fixes which, and the rows come back in the
/// source's order. A source of at most `n` rows is returned whole, in order. Memory: the `n`
/// sampled rows and one chunk.
pub fn sample_rows<S: RowChunks + ?Sized>(
    source: &mut S,
    n: NonZeroUsize,
    seed: u64,
    chunk_rows: usize,
) -> Result<RowSample, SampleError<S::Error>> {
    let n = n.get();
    let mut rng = StdRng::seed_from_u64(seed);
    // Filled as rows arrive (not reserved up front): `n` may be far more than the source holds.
    let mut data: Vec<f32> = Vec::new();
    let mut picked: Vec<usize> = Vec::new();
    let mut dim = 0;
    let mut seen = 0usize;
    while let Some((first, chunk)) = source
        .next_chunk(chunk_rows.max(1))
        .map_err(SampleError::Source)?
    {
        if first != seen {
            return Err(SampleError::OutOfOrder {
                expected: seen,
                found: first,
            });
        }
        if seen == 0 {
            dim = chunk.dim();
        } else if chunk.dim() != dim {
            return Err(SampleError::DimChanged {
                first,
                expected: dim,
                found: chunk.dim(),
            });
        }
        for r in 0..chunk.rows() {
            let i = seen + r;
            if picked.len() < n {
                picked.push(i);
                data.extend_from_slice(chunk.row(r));
            } else {
                let slot = rng.random_range(0..=i);
                if slot < n {
                    picked[slot] = i;
                    data[slot * dim..(slot + 1) * dim].copy_from_slice(chunk.row(r));
                }
            }
        }
        seen += chunk.rows();
    }
    if picked.is_empty() {
        return Err(SampleError::Empty);
    }
    into_source_order(&mut data, &mut picked, dim);
    let rows = Embeddings::new(data, dim).expect("rows of checked chunks");
    Ok(RowSample {
        rows,
        indices: picked,
        source_rows: seen,
    })
}

/// Sorts the reservoir's slots by source row, moving the rows in place (one spare row, not a
/// second copy of the sample).
fn into_source_order(data: &mut [f32], picked: &mut [usize], dim: usize) {
    let mut order: Vec<usize> = (0..picked.len()).collect();
    order.sort_unstable_by_key(|&slot| picked[slot]);
    // Slot k receives old slot order[k]: follow each cycle of the permutation once.
    let mut done = vec![false; order.len()];
    let mut spare = vec![0f32; dim];
    for start in 0..order.len() {
        if done[start] || order[start] == start {
            continue;
        }
        spare.copy_from_slice(&data[start * dim..(start + 1) * dim]);
        let mut k = start;
        loop {
            done[k] = true;
            let from = order[k];
            if from == start {
                data[k * dim..(k + 1) * dim].copy_from_slice(&spare);
                break;
            }
            data.copy_within(from * dim..(from + 1) * dim, k * dim);
            k = from;
        }
    }
    picked.sort_unstable();
}
