//! ID tables as Parquet: the written schema is the one a pyarrow/Ray pipeline reads, a table
//! comes back equal from one file or from shards in any file order, and every bad table (or
//! shard) is refused naming the file and the row.

use crate::common::unique_temp_path;
use crate::data;
use crate::parquet_embeddings::{list_of, write_columns, Layout};
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use rqvae::ids::assign::{assign, AssignOptions};
use rqvae::ids::parquet::{read_table, write_table, TableParquetError, HEADER_KEY};
use rqvae::ids::table::{IdTable, ItemId, Resolution};
use rqvae::HostModel;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The sample's first 600 rows assigned by the default model, with ids made by `id`.
fn table(id: impl Fn(usize) -> ItemId) -> IdTable {
    let host = HostModel::new(&data::default_model()).unwrap();
    let x = data::sample_rows(600);
    let ids: Vec<ItemId> = (0..600).map(id).collect();
    let mut table = IdTable::new(
        host.fingerprint(),
        host.levels(),
        host.codebook_size(),
        Resolution::Reassign,
    )
    .unwrap();
    assign(&mut table, &host, &x, &ids, AssignOptions::default()).unwrap();
    table
}

fn string_ids(i: usize) -> ItemId {
    ItemId::Str(format!("B{i:05}"))
}

fn header_json(table: &IdTable) -> String {
    serde_json::to_string(table.header()).unwrap()
}

/// Columns as a pipeline would write them (codes as a plain list), any values.
struct Raw {
    rows: Vec<u64>,
    ids: ArrayRef,
    codes: Vec<Vec<u32>>,
    tokens: Vec<String>,
    moved: Vec<Option<u32>>,
}

/// Entries `start..end` of `table` as raw columns.
fn raw_of(table: &IdTable, start: usize, end: usize) -> Raw {
    let entries: Vec<_> = (start..end).map(|i| table.entry(i)).collect();
    let ids: ArrayRef = if entries.iter().all(|e| matches!(e.id, ItemId::Int(_))) {
        Arc::new(Int64Array::from_iter_values(entries.iter().map(
            |e| match e.id {
                ItemId::Int(i) => i,
                ItemId::Str(_) => unreachable!(),
            },
        )))
    } else {
        Arc::new(StringArray::from_iter_values(
            entries
                .iter()
                .map(|e| e.id.to_string().trim_matches('"').to_string()),
        ))
    };
    Raw {
        rows: (start as u64..end as u64).collect(),
        ids,
        codes: entries
            .iter()
            .map(|e| {
                let mut c = e.tuple().to_vec();
                c.push(e.suffix());
                c
            })
            .collect(),
        tokens: entries.iter().map(|e| e.tokens()).collect(),
        moved: entries.iter().map(|e| e.reassigned_from).collect(),
    }
}

/// Writes raw columns with `header` (none: no metadata) as a Parquet file.
fn write_raw(path: &Path, header: Option<&str>, raw: &Raw) {
    let codes = raw
        .codes
        .iter()
        .map(|c| Some(c.iter().map(|&v| Some(v)).collect()))
        .collect();
    let batch = RecordBatch::try_from_iter([
        (
            "row",
            Arc::new(UInt64Array::from(raw.rows.clone())) as ArrayRef,
        ),
        ("id", raw.ids.clone()),
        ("codes", list_of::<UInt32Type>(codes, Layout::List)),
        (
            "tokens",
            Arc::new(StringArray::from_iter_values(&raw.tokens)) as ArrayRef,
        ),
        (
            "reassigned_from",
            Arc::new(UInt32Array::from(raw.moved.clone())) as ArrayRef,
        ),
    ])
    .unwrap();
    let metadata: HashMap<String, String> = header
        .map(|h| HashMap::from([(HEADER_KEY.to_string(), h.to_string())]))
        .unwrap_or_default();
    let schema = Arc::new(batch.schema().as_ref().clone().with_metadata(metadata));
    let batch = batch.with_schema(schema.clone()).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn a_table_written_as_parquet_reads_back_equal_with_the_pipelines_schema() {
    let table = table(string_ids);
    // Through JSON Lines first: the Parquet file holds what the JSONL file holds.
    let table = IdTable::from_jsonl(&table.to_jsonl()).unwrap();
    assert!(table.entries().any(|e| e.reassigned_from.is_some()));
    let path = unique_temp_path("table.parquet");
    write_table(&table, &path).unwrap();
    assert_eq!(read_table(&path).unwrap(), table);

    // The schema, as pyarrow would see it.
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let types: Vec<(String, DataType, bool)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    assert_eq!(types[0], ("row".into(), DataType::UInt64, false));
    assert_eq!(types[1], ("id".into(), DataType::Utf8, false));
    assert!(
        matches!(&types[2], (n, DataType::FixedSizeList(f, 4), false) if n == "codes" && f.data_type() == &DataType::UInt32)
    );
    assert_eq!(types[3], ("tokens".into(), DataType::Utf8, false));
    assert_eq!(types[4], ("reassigned_from".into(), DataType::UInt32, true));
    let header: Value = serde_json::from_str(&schema.metadata()[HEADER_KEY]).unwrap();
    assert_eq!(header, serde_json::to_value(table.header()).unwrap());
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let rows = batch.column(0).as_primitive::<UInt64Type>();
    assert!(rows.values().iter().copied().eq(0..600u64));
    let tokens = batch.column(3).as_string::<i32>();
    assert_eq!(tokens.value(17), table.entry(17).tokens());
    let moved = batch.column(4).as_primitive::<UInt32Type>();
    for (i, e) in table.entries().enumerate() {
        assert_eq!(moved.is_valid(i), e.reassigned_from.is_some(), "entry {i}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn integer_ids_are_int64_and_a_table_mixing_ids_is_refused() {
    let table = table(|i| ItemId::Int(i as i64 * 7));
    let path = unique_temp_path("ints.parquet");
    write_table(&table, &path).unwrap();
    assert_eq!(read_table(&path).unwrap(), table);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(builder.schema().field(1).data_type(), &DataType::Int64);
    std::fs::remove_file(&path).unwrap();

    let mut lines: Vec<String> = table.to_jsonl().lines().map(String::from).collect();
    lines[3] = lines[3].replacen("\"id\":21", "\"id\":\"21\"", 1);
    let mixed = IdTable::from_jsonl(&lines.join("\n")).unwrap();
    let error = write_table(&mixed, &path).unwrap_err();
    assert!(
        matches!(
            error,
            TableParquetError::MixedIds {
                int_row: 0,
                str_row: 3,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("mixes integer and string ids"),
        "{error}"
    );
    assert!(!path.exists(), "nothing is written");

    // An empty table keeps its header.
    let empty = IdTable::new("sha256:00", 3, 256, Resolution::Suffix).unwrap();
    write_table(&empty, &path).unwrap();
    assert_eq!(read_table(&path).unwrap(), empty);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn shards_read_as_one_table_placed_by_row_whatever_their_file_order() {
    let table = table(string_ids);
    let header = header_json(&table);
    let dir = unique_temp_path("table-shards");
    std::fs::create_dir(&dir).unwrap();
    // File-name order is rows 400.., 0.., 200..: entries are placed by `row`.
    write_raw(
        &dir.join("part-a.parquet"),
        Some(&header),
        &raw_of(&table, 400, 600),
    );
    write_raw(
        &dir.join("part-b.parquet"),
        Some(&header),
        &raw_of(&table, 0, 200),
    );
    write_raw(
        &dir.join("part-c.parquet"),
        Some(&header),
        &raw_of(&table, 200, 400),
    );
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    assert_eq!(read_table(&dir).unwrap(), table);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The error of reading `shards` (file name, raw columns, header) as one table.
fn shards_error(shards: Vec<(&str, Raw, Option<String>)>) -> (TableParquetError, String) {
    let dir = unique_temp_path("bad-table");
    std::fs::create_dir(&dir).unwrap();
    for (name, raw, header) in &shards {
        write_raw(&dir.join(name), header.as_deref(), raw);
    }
    let error = read_table(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let message = error.to_string();
    (error, message)
}

#[test]
fn a_bad_table_or_shard_is_refused_naming_the_file_and_the_row() {
    let table = table(|i| ItemId::Int(i as i64));
    let h = || Some(header_json(&table));
    let raw = |s, e| raw_of(&table, s, e);

    // A shard from another model.
    let other = header_json(&table).replace(&table.header().model, "sha256:0123");
    let (e, m) = shards_error(vec![
        ("a.parquet", raw(0, 300), h()),
        ("b.parquet", raw(300, 600), Some(other)),
    ]);
    assert!(matches!(e, TableParquetError::ShardModel { .. }), "{m}");
    assert!(
        m.contains("b.parquet: this shard was made by model \"sha256:0123\"")
            && m.contains(&table.header().model)
            && m.contains("a.parquet"),
        "{m}"
    );

    // Another codebook size in one shard.
    let other = header_json(&table).replace("\"codebook_size\":256", "\"codebook_size\":512");
    let (e, m) = shards_error(vec![
        ("a.parquet", raw(0, 300), h()),
        ("b.parquet", raw(300, 600), Some(other)),
    ]);
    assert!(matches!(e, TableParquetError::ShardHeader { .. }), "{m}");

    // A row given twice (and so one missing).
    let mut second = raw(300, 600);
    second.rows[10] = 5;
    let (e, m) = shards_error(vec![
        ("a.parquet", raw(0, 300), h()),
        ("b.parquet", second, h()),
    ]);
    assert!(
        matches!(
            e,
            TableParquetError::RepeatedRow {
                row: 5,
                first_in_file: 5,
                second_in_file: 10,
                ..
            }
        ),
        "{m}"
    );
    assert!(m.contains("a.parquet") && m.contains("b.parquet"), "{m}");

    // A row past the end.
    let mut one = raw(0, 300);
    one.rows[299] = 300;
    let (e, m) = shards_error(vec![("a.parquet", one, h())]);
    assert!(
        matches!(
            e,
            TableParquetError::RowRange {
                row: 300,
                row_in_file: 299,
                rows: 300,
                ..
            }
        ),
        "{m}"
    );

    // Tokens that do not match the codes, in the second shard.
    let mut second = raw(300, 600);
    second.tokens[4] = "<a_1><b_2><c_3><d_0>".into();
    let (e, m) = shards_error(vec![
        ("a.parquet", raw(0, 300), h()),
        ("b.parquet", second, h()),
    ]);
    assert!(
        matches!(
            e,
            TableParquetError::Entry {
                row: 304,
                row_in_file: 4,
                ..
            }
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "b.parquet, row 304 (row 4 of this file): tokens \"<a_1><b_2><c_3><d_0>\" do not match"
        ),
        "{m}"
    );

    // A code outside the codebook; a wrong number of codes.
    let mut one = raw(0, 300);
    one.codes[7][1] = 256;
    let (_, m) = shards_error(vec![("a.parquet", one, h())]);
    assert!(
        m.contains(
            "row 7 (row 7 of this file): code 256 at level 1 is outside the codebook (size 256)"
        ),
        "{m}"
    );
    let mut one = raw(0, 300);
    one.codes[8].pop();
    one.tokens[8] = rqvae::ids::table::tokens(&one.codes[8]);
    let (_, m) = shards_error(vec![("a.parquet", one, h())]);
    assert!(
        m.contains("row 8 (row 8 of this file): 3 codes, expected 4"),
        "{m}"
    );

    // The same id twice; the same full ID twice.
    let mut one = raw(0, 300);
    one.ids = Arc::new(Int64Array::from_iter_values((0..300).map(|i| {
        if i == 9 {
            2
        } else {
            i
        }
    })));
    let (e, m) = shards_error(vec![("a.parquet", one, h())]);
    assert!(
        matches!(
            e,
            TableParquetError::DuplicateId {
                first: 2,
                second: 9,
                ..
            }
        ),
        "{m}"
    );
    let mut one = raw(0, 300);
    one.codes[11] = one.codes[3].clone();
    one.tokens[11] = one.tokens[3].clone();
    one.moved[11] = one.moved[3];
    let (e, m) = shards_error(vec![("a.parquet", one, h())]);
    assert!(
        matches!(
            e,
            TableParquetError::DuplicateCodes {
                first: 3,
                second: 11,
                ..
            }
        ),
        "{m}"
    );
    assert!(m.contains("is given to two items: row 3"), "{m}");

    // No header; a header of another format.
    let (e, m) = shards_error(vec![("a.parquet", raw(0, 300), None)]);
    assert!(matches!(e, TableParquetError::NoHeader { .. }), "{m}");
    let other = header_json(&table).replace("rqvae-id-table", "something-else");
    let (e, m) = shards_error(vec![("a.parquet", raw(0, 300), Some(other))]);
    assert!(matches!(e, TableParquetError::Header { .. }), "{m}");
    assert!(
        m.contains("a.parquet: table header: table format is \"something-else\""),
        "{m}"
    );

    // A missing column; a column of the wrong type.
    let dir = unique_temp_path("columns");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("t.parquet");
    write_columns(
        &path,
        vec![("row", Arc::new(Int64Array::from(vec![0i64])) as ArrayRef)],
        10,
    );
    let m = read_table(&path).unwrap_err().to_string();
    assert!(m.contains("t.parquet: no \"rqvae-id-table\" key"), "{m}");
    let one = raw(0, 1);
    write_raw(&path, h().as_deref(), &one);
    // Rewrite with `row` as int64.
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    let metadata = builder.schema().metadata().clone();
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let mut columns: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    let good = columns.clone();
    columns[0].1 = Arc::new(Int64Array::from(vec![0i64]));
    let with_type = |columns: Vec<(String, ArrayRef)>| {
        let b = RecordBatch::try_from_iter(columns).unwrap();
        let schema = Arc::new(b.schema().as_ref().clone().with_metadata(metadata.clone()));
        let b = b.with_schema(schema.clone()).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
        read_table(&path).unwrap_err()
    };
    let e = with_type(columns.clone());
    assert!(
        e.to_string()
            .contains("t.parquet: column \"row\" is int64, expected uint64"),
        "{e}"
    );
    let e = with_type(good[..4].to_vec());
    assert!(
        matches!(e, TableParquetError::MissingColumn { ref column, .. } if column == "reassigned_from"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("the columns are: row (uint64), id (int64)"),
        "{e}"
    );

    // Not a Parquet file at all.
    std::fs::write(&path, table.to_jsonl()).unwrap();
    let e = read_table(&path).unwrap_err();
    assert!(
        e.to_string().contains("t.parquet: not a Parquet file"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
