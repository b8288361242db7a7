//! The streaming row reader: a Parquet file or directory of shards read a record batch at a
//! time, so memory is bounded by a chunk of rows, whatever the catalog's size; and a whole-file
//! helper for inputs small enough to hold.

use super::column::{choose, FloatKind, ListKind, VectorColumn};
use super::error::{ParquetError, RowAt};
use super::shards::{open, row_count, shard_paths};
use crate::Embeddings;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::arrow::ProjectionMask;
use std::path::{Path, PathBuf};

/// Rows decoded at a time within a chunk.
const BATCH_ROWS: usize = 4096;

/// What a Parquet input holds: enough to plan a chunked read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetLayout {
    /// Rows of every shard together, from the files' footers.
    pub rows: usize,
    /// Values per vector: the fixed size of the type, or the first row's length.
    pub dim: usize,
    /// The column read.
    pub column: String,
    /// The files read, in order.
    pub shards: usize,
}

struct Shard {
    path: PathBuf,
    rows: usize,
    column: VectorColumn,
}

/// Embeddings read from Parquet in chunks of rows, numbered on across shards. Every row's
/// width, nulls and finiteness are checked as it is read.
pub struct ParquetRowReader {
    shards: Vec<Shard>,
    layout: ParquetLayout,
    /// The shard being read (an index into `shards`) and its batches.
    current: Option<(usize, ParquetRecordBatchReader)>,
    /// A batch read but not wholly handed out, and the first row not handed out.
    pending: Option<(ArrayRef, usize)>,
    next_shard: usize,
    next_row: usize,
    row_in_file: usize,
}

impl ParquetRowReader {
    /// Opens a `.parquet` file or a directory of shards, choosing the column (`column`, else
    /// `embedding`, else the only list-of-float column) in the first shard; every shard's footer
    /// and column type are checked here, before any row is read.
    pub fn open(path: &Path, column: Option<&str>) -> Result<Self, ParquetError> {
        let mut shards = Vec::new();
        let mut name = column.map(str::to_string);
        for shard in shard_paths(path)? {
            let builder = open(&shard)?;
            let chosen = choose(builder.schema(), name.as_deref(), &shard)?;
            name = Some(chosen.name.clone());
            shards.push(Shard {
                rows: row_count(&builder),
                path: shard,
                column: chosen,
            });
        }
        let rows = shards.iter().map(|s| s.rows).sum();
        if rows == 0 {
            return Err(ParquetError::Empty {
                path: path.display().to_string(),
            });
        }
        let column = name.expect("at least one shard");
        let mut reader = Self {
            layout: ParquetLayout {
                rows,
                dim: 0,
                column,
                shards: shards.len(),
            },
            shards,
            current: None,
            pending: None,
            next_shard: 0,
            next_row: 0,
            row_in_file: 0,
        };
        reader.layout.dim = reader.first_dim()?;
        Ok(reader)
    }

    pub fn layout(&self) -> &ParquetLayout {
        &self.layout
    }

    /// The dimension: the first shard's fixed size, else its first row's length; a fixed size
    /// in a later shard that differs is refused now.
    fn first_dim(&mut self) -> Result<usize, ParquetError> {
        let (array, _) = self.next_batch()?;
        let first = self.shard_index();
        let at = self.at(0, 0);
        let dim = match self.shards[first].column.list {
            ListKind::FixedSizeList(n) => n,
            _ if array.is_null(0) => return Err(ParquetError::NullVector { at }),
            ListKind::List => array.as_list::<i32>().value_length(0) as usize,
            ListKind::LargeList => array.as_list::<i64>().value_length(0) as usize,
        };
        if dim == 0 {
            return Err(ParquetError::ZeroDim { at });
        }
        let mut row = 0;
        for (i, shard) in self.shards.iter().enumerate() {
            if let ListKind::FixedSizeList(n) = shard.column.list {
                if n != dim && shard.rows > 0 {
                    return Err(ParquetError::Width {
                        at: self.row_at(i, row, 0),
                        expected: dim,
                        found: n,
                    });
                }
            }
            row += shard.rows;
        }
        self.pending = Some((array, 0));
        Ok(dim)
    }

    fn shard_index(&self) -> usize {
        self.current.as_ref().map_or(0, |(i, _)| *i)
    }

    fn row_at(&self, shard: usize, row: usize, row_in_file: usize) -> RowAt {
        RowAt {
            path: self.shards[shard].path.display().to_string(),
            column: self.layout.column.clone(),
            row,
            row_in_file,
        }
    }

    /// The position of the `i`-th row from the next one to hand out, in the current shard.
    fn at(&self, row: usize, row_in_file: usize) -> RowAt {
        self.row_at(self.shard_index(), row, row_in_file)
    }

    /// The next decoded batch of the vector column, moving on to the next shard at the end of
    /// one (whose row count is checked against its footer).
    fn next_batch(&mut self) -> Result<(ArrayRef, usize), ParquetError> {
        loop {
            if let Some((index, batches)) = &mut self.current {
                let path = || self.shards[*index].path.display().to_string();
                match batches.next() {
                    Some(Ok(batch)) if batch.num_rows() > 0 => {
                        return Ok((batch.column(0).clone(), 0));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        return Err(ParquetError::Decode {
                            path: path(),
                            reason: e.to_string(),
                        })
                    }
                    None => {
                        let expected = self.shards[*index].rows;
                        if self.row_in_file != expected {
                            return Err(ParquetError::RowCount {
                                path: path(),
                                expected,
                                found: self.row_in_file,
                            });
                        }
                        self.current = None;
                    }
                }
            }
            let index = self.next_shard;
            let Some(shard) = self.shards.get(index) else {
                let last = self.shards.len() - 1;
                return Err(ParquetError::RowCount {
                    path: self.shards[last].path.display().to_string(),
                    expected: self.shards[last].rows,
                    found: self.row_in_file,
                });
            };
            let builder = open(&shard.path)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), [shard.column.index]);
            let batches = builder
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| ParquetError::Decode {
                    path: shard.path.display().to_string(),
                    reason: e.to_string(),
                })?;
            self.current = Some((index, batches));
            self.next_shard += 1;
            self.row_in_file = 0;
        }
    }

    /// The next at most `max_rows` rows and the index of the first, or `None` after the last.
    pub fn next_chunk(
        &mut self,
        max_rows: usize,
    ) -> Result<Option<(usize, Embeddings)>, ParquetError> {
        let first = self.next_row;
        let want = max_rows.max(1).min(self.layout.rows - first);
        if want == 0 {
            return Ok(None);
        }
        let dim = self.layout.dim;
        let mut data = Vec::with_capacity(want * dim);
        let mut got = 0;
        while got < want {
            let (array, offset) = match self.pending.take() {
                Some(p) => p,
                None => self.next_batch()?,
            };
            let count = (array.len() - offset).min(want - got);
            let shard = self.shard_index();
            let float = self.shards[shard].column.float;
            let (row, row_in_file) = (self.next_row, self.row_in_file);
            append_rows(&array, offset, count, dim, float, &mut data, |i| {
                self.row_at(shard, row + i, row_in_file + i)
            })?;
            got += count;
            self.next_row += count;
            self.row_in_file += count;
            if offset + count < array.len() {
                self.pending = Some((array, offset + count));
            }
        }
        let rows = Embeddings::new(data, dim).map_err(|e| ParquetError::Decode {
            path: self.shards[self.shard_index()].path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some((first, rows)))
    }
}

/// Where row `i`'s values start in the list's values, and how many there are.
type Bounds<'a> = Box<dyn Fn(usize) -> (usize, usize) + 'a>;

/// Appends `count` rows of a vector column from `start`, checking each: not null, `dim` values,
/// none null, all finite as f32. `at(i)` locates the `i`-th for messages.
fn append_rows(
    array: &ArrayRef,
    start: usize,
    count: usize,
    dim: usize,
    float: FloatKind,
    out: &mut Vec<f32>,
    at: impl Fn(usize) -> RowAt,
) -> Result<(), ParquetError> {
    use arrow_schema::DataType;
    // (values, offset of each row's first value, its length) for the three list layouts.
    let (values, bounds): (&ArrayRef, Bounds<'_>) = match array.data_type() {
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let o = l.value_offsets();
            (
                l.values(),
                Box::new(move |i| (o[i] as usize, (o[i + 1] - o[i]) as usize)),
            )
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let o = l.value_offsets();
            (
                l.values(),
                Box::new(move |i| (o[i] as usize, (o[i + 1] - o[i]) as usize)),
            )
        }
        DataType::FixedSizeList(_, _) => {
            let l = array.as_fixed_size_list();
            (
                l.values(),
                Box::new(move |i| (l.value_offset_at(i), l.value_length() as usize)),
            )
        }
        other => {
            return Err(ParquetError::Decode {
                path: at(0).path,
                reason: format!("column read as {other}, not a list"),
            })
        }
    };
    for i in 0..count {
        let r = start + i;
        if array.is_null(r) {
            return Err(ParquetError::NullVector { at: at(i) });
        }
        let (s, len) = bounds(r);
        if len != dim {
            return Err(ParquetError::Width {
                at: at(i),
                expected: dim,
                found: len,
            });
        }
        if values.null_count() > 0 {
            if let Some(index) = (s..s + len).position(|j| values.is_null(j)) {
                return Err(ParquetError::NullElement { at: at(i), index });
            }
        }
        let before = out.len();
        match float {
            FloatKind::F32 => {
                out.extend_from_slice(&values.as_primitive::<Float32Type>().values()[s..s + len])
            }
            FloatKind::F16 => out.extend(
                values.as_primitive::<Float16Type>().values()[s..s + len]
                    .iter()
                    .map(|v| v.to_f32()),
            ),
            FloatKind::F64 => out.extend(
                values.as_primitive::<Float64Type>().values()[s..s + len]
                    .iter()
                    .map(|&v| v as f32),
            ),
        }
        if let Some(index) = out[before..].iter().position(|v| !v.is_finite()) {
            let value = match float {
                FloatKind::F64 => values.as_primitive::<Float64Type>().value(s + index),
                _ => f64::from(out[before + index]),
            };
            return Err(ParquetError::NonFinite {
                at: at(i),
                index,
                value,
            });
        }
    }
    Ok(())
}

/// Reads a whole Parquet input (a file or a directory of shards) into memory.
pub fn read_embeddings(path: &Path, column: Option<&str>) -> Result<Embeddings, ParquetError> {
    let mut reader = ParquetRowReader::open(path, column)?;
    let rows = reader.layout().rows;
    let (_, all) = reader.next_chunk(rows)?.expect("a reader opens with rows");
    Ok(all)
}
