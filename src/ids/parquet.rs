//! ID tables as Parquet, for pipelines (pyarrow, Spark, Ray) that join semantic IDs onto a
//! catalog of 10^8 items: the same table as the JSON Lines file, column by column, read back
//! with the same checks.
//!
//! Columns:
//!
//! - `row`: uint64, the entry's position in the table (0-based; the JSON Lines file's order);
//! - `id`: int64 when every id is an integer, utf8 when every id is a string (a table that mixes
//!   both is refused on write: one Parquet column holds one type);
//! - `codes`: fixed_size_list<uint32>[levels + 1], the levels' codes then the disambiguation code;
//! - `tokens`: utf8, `<a_12><b_7><c_201><d_0>`;
//! - `reassigned_from`: uint32, null unless collision resolution moved the item.
//!
//! The schema's key-value metadata `rqvae-id-table` holds the table header as JSON (what JSON
//! Lines puts under `"table"`). A table may be read from a directory of shards (file-name order,
//! names starting with `.` or `_` skipped); entries are placed by `row`, which must hold 0..n
//! once each, and every shard must carry the same header.

use super::table::{Entry, IdTable, ItemId, TableBuilder, TableError};
use crate::atomic::AtomicFile;
use crate::parquet::column::type_name;
use crate::parquet::shards::{open, row_count, shard_paths};
use crate::parquet::ParquetError;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Int64Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The schema metadata key that holds the table header.
pub const HEADER_KEY: &str = "rqvae-id-table";

/// Entries written per record batch (and so per row group at most).
const BATCH_ROWS: usize = 65_536;

/// Why an ID table cannot be written or read as Parquet.
#[derive(Debug, thiserror::Error)]
pub enum TableParquetError {
    #[error(transparent)]
    Input(#[from] ParquetError),
    #[error("{path}: cannot write: {reason}")]
    Write { path: String, reason: String },
    #[error("the table mixes integer and string ids (entry {int_row} has id {int_id}, entry {str_row} has id {str_id}); a Parquet `id` column holds one type: give every id as a string, or write JSON Lines")]
    MixedIds {
        int_row: usize,
        int_id: String,
        str_row: usize,
        str_id: String,
    },
    #[error("{path}: no {HEADER_KEY:?} key in the schema metadata; is this an rqvae ID table?")]
    NoHeader { path: String },
    #[error("{path}: table header: {message}")]
    Header { path: String, message: String },
    #[error("{path}: this shard was made by model {found}, but {first_path} by model {expected}; the shards of one table come from one model")]
    ShardModel {
        path: String,
        found: String,
        first_path: String,
        expected: String,
    },
    #[error("{path}: its table header {found} differs from {first_path}'s {expected}")]
    ShardHeader {
        path: String,
        found: String,
        first_path: String,
        expected: String,
    },
    #[error("{path}: no column {column:?}; an ID table has row, id, codes, tokens and reassigned_from; the columns are: {}", columns.join(", "))]
    MissingColumn {
        path: String,
        column: String,
        columns: Vec<String>,
    },
    #[error("{path}: column {column:?} is {found}, expected {expected}")]
    ColumnType {
        path: String,
        column: String,
        found: String,
        expected: String,
    },
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: String, reason: String },
    #[error("{path}, row {row_in_file} of this file: {column} is null")]
    Null {
        path: String,
        row_in_file: usize,
        column: String,
    },
    #[error("{path}, row {row_in_file} of this file: `row` is {row}, but the table has {rows} rows, so `row` must hold 0..{rows} once each")]
    RowRange {
        path: String,
        row_in_file: usize,
        row: u64,
        rows: usize,
    },
    #[error("row {row} appears twice: {first_path} (row {first_in_file} of that file) and {second_path} (row {second_in_file} of that file); `row` must number each entry once")]
    RepeatedRow {
        row: usize,
        first_path: String,
        first_in_file: usize,
        second_path: String,
        second_in_file: usize,
    },
    #[error("{path}, row {row} (row {row_in_file} of this file): {message}")]
    Entry {
        path: String,
        row: usize,
        row_in_file: usize,
        message: String,
    },
    #[error("id {id} appears twice: row {first} ({first_path}) and row {second} ({second_path})")]
    DuplicateId {
        id: String,
        first: usize,
        first_path: String,
        second: usize,
        second_path: String,
    },
    #[error("ID {codes:?} is given to two items: row {first} ({first_path}) and row {second} ({second_path})")]
    DuplicateCodes {
        codes: Vec<u32>,
        first: usize,
        first_path: String,
        second: usize,
        second_path: String,
    },
}

/// The Arrow schema of a table whose ids are `id_type` (int64 or utf8).
fn schema(table: &IdTable, id_type: DataType) -> Schema {
    let header = serde_json::to_string(table.header()).expect("a header serialises");
    Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("id", id_type, false),
        Field::new(
            "codes",
            DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::UInt32, false)),
                (table.header().levels + 1) as i32,
            ),
            false,
        ),
        Field::new("tokens", DataType::Utf8, false),
        Field::new("reassigned_from", DataType::UInt32, true),
    ])
    .with_metadata(HashMap::from([(HEADER_KEY.to_string(), header)]))
}

/// int64 if every id is an integer, utf8 if every id is a string (int64 for an empty table).
fn id_type(table: &IdTable) -> Result<DataType, TableParquetError> {
    let first_int = table.entries().position(|e| matches!(e.id, ItemId::Int(_)));
    let first_str = table.entries().position(|e| matches!(e.id, ItemId::Str(_)));
    match (first_int, first_str) {
        (Some(i), Some(s)) => Err(TableParquetError::MixedIds {
            int_row: i,
            int_id: table.entry(i).id.to_string(),
            str_row: s,
            str_id: table.entry(s).id.to_string(),
        }),
        (None, Some(_)) => Ok(DataType::Utf8),
        _ => Ok(DataType::Int64),
    }
}

/// Writes `table` as one Parquet file (snappy-compressed), atomically: to a temporary file
/// beside `path`, then renamed over it.
pub fn write_table(table: &IdTable, path: &Path) -> Result<(), TableParquetError> {
    let id_type = id_type(table)?;
    let schema = Arc::new(schema(table, id_type.clone()));
    let fail = |reason: String| TableParquetError::Write {
        path: path.display().to_string(),
        reason,
    };
    // Dropped on an error below, the unfinished file is removed.
    let file = AtomicFile::create(path).map_err(|e| fail(e.to_string()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
        .map_err(|e| fail(e.to_string()))?;
    let width = table.header().levels + 1;
    for first in (0..table.len()).step_by(BATCH_ROWS) {
        let end = (first + BATCH_ROWS).min(table.len());
        let chunk: Vec<Entry<'_>> = (first..end).map(|i| table.entry(i)).collect();
        let rows = UInt64Array::from_iter_values((first..first + chunk.len()).map(|r| r as u64));
        let ids: ArrayRef = match id_type {
            DataType::Utf8 => {
                Arc::new(StringArray::from_iter_values(chunk.iter().map(
                    |e| match &e.id {
                        ItemId::Str(s) => s.as_str(),
                        ItemId::Int(_) => unreachable!("id types were checked"),
                    },
                )))
            }
            _ => Arc::new(Int64Array::from_iter_values(chunk.iter().map(
                |e| match e.id {
                    ItemId::Int(i) => i,
                    ItemId::Str(_) => unreachable!("id types were checked"),
                },
            ))),
        };
        let mut codes = Vec::with_capacity(chunk.len() * width);
        for e in &chunk {
            codes.extend_from_slice(e.tuple());
            codes.push(e.suffix());
        }
        let codes = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(DataType::UInt32, false)),
            width as i32,
            Arc::new(UInt32Array::from(codes)),
            None,
        )
        .map_err(|e| fail(e.to_string()))?;
        let tokens = StringArray::from_iter_values(chunk.iter().map(|e| e.tokens()));
        let moved: UInt32Array = chunk.iter().map(|e| e.reassigned_from).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(rows),
                ids,
                Arc::new(codes),
                Arc::new(tokens),
                Arc::new(moved),
            ],
        )
        .map_err(|e| fail(e.to_string()))?;
        writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    }
    let file = writer.into_inner().map_err(|e| fail(e.to_string()))?;
    file.finish().map_err(|e| fail(e.to_string()))
}

/// One entry as read, before it is placed by its `row`.
struct ReadEntry {
    object: Map<String, Value>,
    shard: usize,
    row_in_file: usize,
}

/// The header of one shard, as JSON.
fn shard_header(
    builder: &parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<std::fs::File>,
    path: &Path,
) -> Result<Value, TableParquetError> {
    let text =
        builder
            .schema()
            .metadata()
            .get(HEADER_KEY)
            .ok_or_else(|| TableParquetError::NoHeader {
                path: path.display().to_string(),
            })?;
    serde_json::from_str(text).map_err(|e| TableParquetError::Header {
        path: path.display().to_string(),
        message: format!("not JSON: {e}"),
    })
}

/// Whether a column's type is one the schema allows.
type TypeCheck<'a> = dyn Fn(&DataType) -> bool + 'a;

/// Checks that a shard has the five columns with the types the schema gives them.
fn check_columns(schema: &Schema, path: &Path) -> Result<(), TableParquetError> {
    let path_text = || path.display().to_string();
    let columns = || {
        schema
            .fields()
            .iter()
            .map(|f| format!("{} ({})", f.name(), type_name(f.data_type())))
            .collect()
    };
    let list_of_u32 = |t: &DataType| match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type() == &DataType::UInt32
        }
        _ => false,
    };
    let string = |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8);
    let rules: [(&str, &str, &TypeCheck); 5] = [
        ("row", "uint64", &|t| t == &DataType::UInt64),
        ("id", "int64 or utf8", &|t| {
            t == &DataType::Int64 || string(t)
        }),
        ("codes", "fixed_size_list<uint32>", &list_of_u32),
        ("tokens", "utf8", &string),
        ("reassigned_from", "uint32", &|t| t == &DataType::UInt32),
    ];
    for (column, expected, fits) in rules {
        let field =
            schema
                .field_with_name(column)
                .map_err(|_| TableParquetError::MissingColumn {
                    path: path_text(),
                    column: column.into(),
                    columns: columns(),
                })?;
        if !fits(field.data_type()) {
            return Err(TableParquetError::ColumnType {
                path: path_text(),
                column: column.into(),
                found: type_name(field.data_type()),
                expected: expected.into(),
            });
        }
    }
    Ok(())
}

/// The string at `i` of a utf8 or large_utf8 column.
fn string_at(array: &ArrayRef, i: usize) -> &str {
    match array.data_type() {
        DataType::LargeUtf8 => array.as_string::<i64>().value(i),
        _ => array.as_string::<i32>().value(i),
    }
}

/// The codes of row `i` of a list, large_list or fixed_size_list column of uint32, or the
/// position of a null code.
fn codes_at(array: &ArrayRef, i: usize) -> Result<Vec<u32>, usize> {
    let values = match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().value(i),
        DataType::LargeList(_) => array.as_list::<i64>().value(i),
        _ => array.as_fixed_size_list().value(i),
    };
    let values = values.as_primitive::<UInt32Type>();
    if let Some(k) = (0..values.len()).position(|k| values.is_null(k)) {
        return Err(k);
    }
    Ok(values.values().to_vec())
}

/// Reads a table written by [`write_table`] (or by a pipeline following its schema) from a
/// file or a directory of shards, with every check [`IdTable::from_jsonl`] makes.
pub fn read_table(path: &Path) -> Result<IdTable, TableParquetError> {
    let shards = shard_paths(path)?;
    let mut builders = Vec::with_capacity(shards.len());
    let mut first_header: Option<Value> = None;
    for shard in &shards {
        let builder = open(shard)?;
        let header = shard_header(&builder, shard)?;
        match &first_header {
            None => first_header = Some(header),
            Some(first) if first != &header => {
                let model = |h: &Value| h.get("model").map_or("?".into(), |m| m.to_string());
                let first_path = shards[0].display().to_string();
                return Err(if model(first) != model(&header) {
                    TableParquetError::ShardModel {
                        path: shard.display().to_string(),
                        found: model(&header),
                        first_path,
                        expected: model(first),
                    }
                } else {
                    TableParquetError::ShardHeader {
                        path: shard.display().to_string(),
                        found: header.to_string(),
                        first_path,
                        expected: first.to_string(),
                    }
                });
            }
            Some(_) => {}
        }
        check_columns(builder.schema(), shard)?;
        builders.push(builder);
    }
    let header = first_header.expect("at least one shard");
    let mut table = TableBuilder::new(0, header).map_err(|e| TableParquetError::Header {
        path: shards[0].display().to_string(),
        message: without_line(&e),
    })?;
    let rows: usize = builders.iter().map(row_count).sum();
    let mut placed: Vec<Option<ReadEntry>> = Vec::new();
    placed.resize_with(rows, || None);
    for (shard, builder) in builders.into_iter().enumerate() {
        let path = &shards[shard];
        let decode = |e: &dyn std::fmt::Display| TableParquetError::Decode {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let batches = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| decode(&e))?;
        let mut row_in_file = 0;
        for batch in batches {
            let batch = batch.map_err(|e| decode(&e))?;
            let column = |name: &str| batch.column_by_name(name).expect("columns were checked");
            let (row_col, id_col, codes_col, tokens_col, moved_col) = (
                column("row"),
                column("id"),
                column("codes"),
                column("tokens"),
                column("reassigned_from"),
            );
            let row_values = row_col.as_primitive::<UInt64Type>();
            let moved = moved_col.as_primitive::<UInt32Type>();
            for i in 0..batch.num_rows() {
                let null = |column: &str| TableParquetError::Null {
                    path: path.display().to_string(),
                    row_in_file,
                    column: column.into(),
                };
                for (name, col) in [
                    ("row", row_col),
                    ("id", id_col),
                    ("codes", codes_col),
                    ("tokens", tokens_col),
                ] {
                    if col.is_null(i) {
                        return Err(null(name));
                    }
                }
                let row = row_values.value(i);
                let slot = usize::try_from(row)
                    .ok()
                    .filter(|&r| r < rows)
                    .ok_or_else(|| TableParquetError::RowRange {
                        path: path.display().to_string(),
                        row_in_file,
                        row,
                        rows,
                    })?;
                if let Some(first) = &placed[slot] {
                    return Err(TableParquetError::RepeatedRow {
                        row: slot,
                        first_path: shards[first.shard].display().to_string(),
                        first_in_file: first.row_in_file,
                        second_path: path.display().to_string(),
                        second_in_file: row_in_file,
                    });
                }
                let id = match id_col.data_type() {
                    DataType::Int64 => Value::from(id_col.as_primitive::<Int64Type>().value(i)),
                    _ => Value::from(string_at(id_col, i)),
                };
                let codes = codes_at(codes_col, i).map_err(|k| TableParquetError::Entry {
                    path: path.display().to_string(),
                    row: slot,
                    row_in_file,
                    message: format!("code {k} is null"),
                })?;
                let mut object = Map::new();
                object.insert("id".into(), id);
                object.insert("codes".into(), Value::from(codes));
                object.insert("tokens".into(), Value::from(string_at(tokens_col, i)));
                if moved.is_valid(i) {
                    object.insert("reassigned_from".into(), Value::from(moved.value(i)));
                }
                placed[slot] = Some(ReadEntry {
                    object,
                    shard,
                    row_in_file,
                });
                row_in_file += 1;
            }
        }
    }
    // Every slot is filled: `rows` entries went into `rows` distinct slots below `rows`, unless
    // a footer's count disagreed with the rows read.
    let mut located = Vec::with_capacity(rows);
    for (row, slot) in placed.into_iter().enumerate() {
        let entry = slot.ok_or_else(|| TableParquetError::Decode {
            path: path.display().to_string(),
            reason: format!(
                "no entry has row {row}: the files' footers count more rows than they hold"
            ),
        })?;
        located.push((entry.shard, entry.row_in_file));
        table
            .push_object(row, &entry.object)
            .map_err(|e| locate(e, &located, &shards))?;
    }
    table.finish().map_err(|e| locate(e, &located, &shards))
}

/// A [`TableError`] from the checks, its line numbers read as rows and located in their shard.
fn locate(
    e: TableError,
    located: &[(usize, usize)],
    shards: &[std::path::PathBuf],
) -> TableParquetError {
    let file = |row: usize| shards[located[row].0].display().to_string();
    match e {
        TableError::DuplicateId { id, first, second } => TableParquetError::DuplicateId {
            id,
            first_path: file(first),
            second_path: file(second),
            first,
            second,
        },
        TableError::DuplicateCodes {
            codes,
            first,
            second,
        } => TableParquetError::DuplicateCodes {
            codes,
            first_path: file(first),
            second_path: file(second),
            first,
            second,
        },
        other => {
            let row = line_of(&other).unwrap_or(located.len() - 1);
            TableParquetError::Entry {
                path: file(row),
                row,
                row_in_file: located[row].1,
                message: without_line(&other),
            }
        }
    }
}

/// The line (here: the row) a [`TableError`] names, if it names one.
fn line_of(e: &TableError) -> Option<usize> {
    match e {
        TableError::Json { line, .. }
        | TableError::Field { line, .. }
        | TableError::Format { line, .. }
        | TableError::Version { line, .. }
        | TableError::Shape { line, .. }
        | TableError::CodeRange { line, .. }
        | TableError::Tokens { line, .. } => Some(*line),
        _ => None,
    }
}

/// The message of a [`TableError`] without its `line N: ` prefix (the caller names the row).
fn without_line(e: &TableError) -> String {
    let text = e.to_string();
    match line_of(e) {
        Some(line) => text
            .strip_prefix(&format!("line {line}: "))
            .map_or(text.clone(), str::to_string),
        None => text,
    }
}
