//! Embeddings from Parquet: files written here with the Arrow writer in every layout the reader
//! takes, read back against the `.npy` reader of the same rows, and every bad input named.

use crate::common::unique_temp_path;
use crate::data;
use arrow_array::types::{Float16Type, Float32Type, Float64Type, UInt64Type};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, FixedSizeListArray, LargeListArray, ListArray, RecordBatch,
    StringArray, UInt64Array,
};
use half::f16;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rqvae::parquet::{read_embeddings, ParquetError, ParquetRowReader};
use rqvae::Embeddings;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a test stores vectors.
#[derive(Clone, Copy)]
pub enum Layout {
    List,
    LargeList,
    Fixed,
}

/// Element types, from the f32 rows.
#[derive(Clone, Copy)]
pub enum Float {
    F16,
    F32,
    F64,
}

/// A list column of `T` in `layout`: `None` rows null, `None` values null.
pub fn list_of<T: ArrowPrimitiveType>(
    rows: Vec<Option<Vec<Option<T::Native>>>>,
    layout: Layout,
) -> ArrayRef {
    match layout {
        Layout::List => Arc::new(ListArray::from_iter_primitive::<T, _, _>(rows)),
        Layout::LargeList => Arc::new(LargeListArray::from_iter_primitive::<T, _, _>(rows)),
        Layout::Fixed => {
            let dim = rows.iter().flatten().next().map_or(0, Vec::len);
            Arc::new(FixedSizeListArray::from_iter_primitive::<T, _, _>(
                rows, dim as i32,
            ))
        }
    }
}

/// A vector column of `rows` (each its own length, so ragged rows can be written), `None` rows
/// null.
fn vector_column(rows: &[Option<Vec<f32>>], layout: Layout, float: Float) -> ArrayRef {
    fn convert<T: ArrowPrimitiveType>(
        rows: &[Option<Vec<f32>>],
        f: impl Fn(f32) -> T::Native,
    ) -> Vec<Option<Vec<Option<T::Native>>>> {
        rows.iter()
            .map(|r| r.as_ref().map(|v| v.iter().map(|&x| Some(f(x))).collect()))
            .collect()
    }
    match float {
        Float::F32 => list_of::<Float32Type>(convert::<Float32Type>(rows, |v| v), layout),
        Float::F16 => list_of::<Float16Type>(convert::<Float16Type>(rows, f16::from_f32), layout),
        Float::F64 => list_of::<Float64Type>(convert::<Float64Type>(rows, f64::from), layout),
    }
}

/// Writes `columns` as one Parquet file in row groups of `group` rows.
pub fn write_columns(path: &Path, columns: Vec<(&str, ArrayRef)>, group: usize) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn rows_of(x: &Embeddings, start: usize, end: usize) -> Vec<Option<Vec<f32>>> {
    (start..end).map(|r| Some(x.row(r).to_vec())).collect()
}

/// Rows `start..end` of `x` as a file with an `id` column and the vectors in `embedding`.
fn write_rows(path: &Path, x: &Embeddings, start: usize, end: usize, layout: Layout, float: Float) {
    let ids = UInt64Array::from_iter_values((start..end).map(|r| r as u64));
    write_columns(
        path,
        vec![
            ("id", Arc::new(ids) as ArrayRef),
            (
                "embedding",
                vector_column(&rows_of(x, start, end), layout, float),
            ),
        ],
        700,
    );
}

fn bits(x: &Embeddings) -> Vec<u32> {
    x.as_slice().iter().map(|v| v.to_bits()).collect()
}

fn temp_file(name: &str) -> PathBuf {
    unique_temp_path(name)
}

#[test]
fn every_layout_and_float_type_reads_the_same_bits_as_the_npy() {
    // The sample is float16, so widening it to f32 and f64 and narrowing back is exact.
    let x = data::sample();
    for (layout, float, name) in [
        (Layout::List, Float::F32, "list-f32"),
        (Layout::Fixed, Float::F16, "fixed-f16"),
        (Layout::LargeList, Float::F64, "large-f64"),
        (Layout::List, Float::F16, "list-f16"),
        (Layout::Fixed, Float::F32, "fixed-f32"),
    ] {
        let path = temp_file(&format!("{name}.parquet"));
        write_rows(&path, &x, 0, x.rows(), layout, float);
        let read = read_embeddings(&path, None).unwrap();
        assert_eq!((read.rows(), read.dim()), (3000, 768), "{name}");
        assert!(bits(&read) == bits(&x), "{name}: not the npy's bits");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_directory_of_shards_reads_as_one_file_with_rows_numbered_on() {
    let x = data::sample();
    let dir = temp_file("shards");
    std::fs::create_dir(&dir).unwrap();
    // Uneven shards, a different type in each, and files that are not shards.
    write_rows(
        &dir.join("part-000.parquet"),
        &x,
        0,
        1234,
        Layout::List,
        Float::F32,
    );
    write_rows(
        &dir.join("part-001.parquet"),
        &x,
        1234,
        1300,
        Layout::Fixed,
        Float::F16,
    );
    write_rows(
        &dir.join("part-002.parquet"),
        &x,
        1300,
        3000,
        Layout::LargeList,
        Float::F64,
    );
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join(".part-000.parquet.crc"), "x").unwrap();
    let one = temp_file("one.parquet");
    write_rows(&one, &x, 0, 3000, Layout::List, Float::F32);

    let mut reader = ParquetRowReader::open(&dir, None).unwrap();
    assert_eq!(reader.layout().rows, 3000);
    assert_eq!(reader.layout().dim, 768);
    assert_eq!(reader.layout().shards, 3);
    let mut firsts = Vec::new();
    let mut all = Vec::new();
    while let Some((first, chunk)) = reader.next_chunk(1000).unwrap() {
        assert!(chunk.rows() <= 1000);
        firsts.push(first);
        all.extend_from_slice(chunk.as_slice());
    }
    assert_eq!(firsts, [0, 1000, 2000], "chunks cross shard boundaries");
    let whole = read_embeddings(&one, None).unwrap();
    assert!(all.iter().map(|v| v.to_bits()).eq(bits(&whole)));
    assert!(bits(&read_embeddings(&dir, None).unwrap()) == bits(&x));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&one).unwrap();
}

#[test]
fn the_column_is_the_one_named_else_embedding_else_the_only_float_list() {
    let x = data::sample_rows(20);
    let path = temp_file("columns.parquet");
    let titles = StringArray::from_iter_values((0..20).map(|i| format!("item {i}")));
    write_columns(
        &path,
        vec![
            ("title", Arc::new(titles.clone()) as ArrayRef),
            (
                "vec",
                vector_column(&rows_of(&x, 0, 20), Layout::List, Float::F32),
            ),
        ],
        100,
    );
    assert_eq!(read_embeddings(&path, None).unwrap(), x, "the only list");
    assert_eq!(read_embeddings(&path, Some("vec")).unwrap(), x);

    let twice: Vec<Option<Vec<f32>>> = (0..20).map(|r| Some(vec![r as f32; 4])).collect();
    write_columns(
        &path,
        vec![
            ("title", Arc::new(titles) as ArrayRef),
            (
                "vec",
                vector_column(&rows_of(&x, 0, 20), Layout::List, Float::F32),
            ),
            ("small", vector_column(&twice, Layout::Fixed, Float::F16)),
        ],
        100,
    );
    let message = read_embeddings(&path, None).unwrap_err().to_string();
    assert!(
        message.contains("no column named \"embedding\" and 2 list-of-float columns")
            && message.contains("--column")
            && message
                .contains("title (utf8), vec (list<float32>), small (fixed_size_list<float16>[4])"),
        "{message}"
    );
    let small = read_embeddings(&path, Some("small")).unwrap();
    assert_eq!((small.rows(), small.dim()), (20, 4));
    assert_eq!(small.row(7), [7.0; 4]);
    std::fs::remove_file(&path).unwrap();
}

/// The error of reading `columns` written as one file (column `embedding` unless `column`).
fn error_of(columns: Vec<(&str, ArrayRef)>, column: Option<&str>) -> (ParquetError, String) {
    let path = temp_file("bad.parquet");
    write_columns(&path, columns, 3);
    let error = read_embeddings(&path, column).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let message = error.to_string();
    (error, message)
}

fn vectors(
    rows: Vec<Option<Vec<f32>>>,
    layout: Layout,
    float: Float,
) -> Vec<(&'static str, ArrayRef)> {
    vec![("embedding", vector_column(&rows, layout, float))]
}

#[test]
fn a_bad_vector_is_named_by_file_row_and_column() {
    let ok = || Some(vec![0.5f32, -1.0, 2.0]);
    // A row of another width: the dimension is row 0's.
    let (e, m) = error_of(
        vectors(
            vec![ok(), ok(), ok(), ok(), Some(vec![1.0, 2.0]), ok()],
            Layout::List,
            Float::F32,
        ),
        None,
    );
    assert!(
        matches!(e, ParquetError::Width { ref at, expected: 3, found: 2 } if at.row == 4 && at.row_in_file == 4 && at.column == "embedding"),
        "{m}"
    );
    assert!(m.contains("bad.parquet: row 4 (row 4 of this file), column \"embedding\": the vector has 2 values, expected 3"), "{m}");

    let (e, m) = error_of(
        vectors(vec![ok(), ok(), None, ok()], Layout::LargeList, Float::F32),
        None,
    );
    assert!(
        matches!(e, ParquetError::NullVector { ref at } if at.row == 2),
        "{m}"
    );
    assert!(
        m.contains("row 2") && m.contains("the vector is null"),
        "{m}"
    );

    // A null first row: the dimension cannot be read from it.
    let (e, _) = error_of(vectors(vec![None, ok()], Layout::List, Float::F32), None);
    assert!(matches!(e, ParquetError::NullVector { ref at } if at.row == 0));

    let (e, m) = error_of(
        vectors(
            vec![ok(), ok(), ok(), ok(), ok(), Some(vec![1.0, f32::NAN, 0.0])],
            Layout::Fixed,
            Float::F16,
        ),
        None,
    );
    assert!(
        matches!(e, ParquetError::NonFinite { ref at, index: 1, .. } if at.row == 5 && at.row_in_file == 5),
        "{m}"
    );
    assert!(m.contains("element 1 is NaN"), "{m}");

    let (e, m) = error_of(
        vectors(
            vec![ok(), Some(vec![f32::NEG_INFINITY, 0.0, 0.0])],
            Layout::List,
            Float::F32,
        ),
        None,
    );
    assert!(matches!(e, ParquetError::NonFinite { index: 0, .. }), "{m}");
    assert!(m.contains("element 0 is -inf"), "{m}");

    // float64 that float32 cannot hold.
    let list = list_of::<Float64Type>(
        vec![
            Some(vec![Some(1.0), Some(2.0)]),
            Some(vec![Some(1e300), Some(4.0)]),
        ],
        Layout::List,
    );
    let (e, m) = error_of(vec![("embedding", list)], None);
    assert!(
        matches!(e, ParquetError::NonFinite { ref at, index: 0, value } if at.row == 1 && value == 1e300),
        "{m}"
    );
    assert!(m.contains("does not fit float32"), "{m}");

    // A null element inside a vector.
    let list = list_of::<Float32Type>(
        vec![
            Some(vec![Some(1.0), Some(2.0)]),
            Some(vec![Some(3.0), None]),
        ],
        Layout::Fixed,
    );
    let (e, m) = error_of(vec![("embedding", list)], None);
    assert!(
        matches!(e, ParquetError::NullElement { ref at, index: 1 } if at.row == 1),
        "{m}"
    );
    assert!(m.contains("element 1 of the vector is null"), "{m}");

    // An empty first vector.
    let (e, _) = error_of(
        vectors(vec![Some(vec![]), Some(vec![])], Layout::List, Float::F32),
        None,
    );
    assert!(matches!(e, ParquetError::ZeroDim { .. }));
}

#[test]
fn a_bad_row_in_a_later_shard_is_named_by_its_global_and_file_row() {
    let dir = temp_file("bad-shards");
    std::fs::create_dir(&dir).unwrap();
    let rows = |n: usize| {
        (0..n)
            .map(|r| Some(vec![r as f32, 1.0]))
            .collect::<Vec<_>>()
    };
    write_columns(
        &dir.join("a.parquet"),
        vectors(rows(5), Layout::List, Float::F32),
        2,
    );
    let mut second = rows(4);
    second[3] = Some(vec![1.0, 2.0, 3.0]);
    write_columns(
        &dir.join("b.parquet"),
        vectors(second, Layout::List, Float::F32),
        2,
    );
    let error = read_embeddings(&dir, None).unwrap_err();
    match &error {
        ParquetError::Width {
            at,
            expected: 2,
            found: 3,
        } => {
            assert_eq!((at.row, at.row_in_file), (8, 3));
            assert!(at.path.ends_with("b.parquet"), "{error}");
        }
        other => panic!("{other}"),
    }
    // A fixed size that differs from the first shard's is refused when the reader opens.
    let fixed: Vec<_> = (0..3).map(|_| Some(vec![0.0f32; 3])).collect();
    write_columns(
        &dir.join("b.parquet"),
        vectors(fixed, Layout::Fixed, Float::F32),
        2,
    );
    let error = ParquetRowReader::open(&dir, None)
        .err()
        .expect("refused on open");
    assert!(
        matches!(&error, ParquetError::Width { at, expected: 2, found: 3 } if at.row == 5 && at.row_in_file == 0),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_or_mistyped_column_and_a_file_that_is_not_parquet_are_named() {
    let ids: ArrayRef = Arc::new(UInt64Array::from(vec![1, 2]));
    let titles: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
    let (e, m) = error_of(
        vec![("id", ids.clone()), ("title", titles.clone())],
        Some("emb"),
    );
    assert!(matches!(e, ParquetError::MissingColumn { .. }), "{m}");
    assert!(
        m.contains("no column \"emb\"; the columns are: id (uint64), title (utf8)"),
        "{m}"
    );
    // No column named, none to choose.
    let (e, m) = error_of(vec![("id", ids.clone()), ("title", titles.clone())], None);
    assert!(
        matches!(e, ParquetError::AmbiguousColumn { candidates: 0, .. }),
        "{m}"
    );

    let (e, m) = error_of(vec![("id", ids.clone()), ("embedding", titles)], None);
    assert!(
        matches!(e, ParquetError::WrongType { ref found, .. } if found == "utf8"),
        "{m}"
    );
    assert!(m.contains("column \"embedding\" is utf8"), "{m}");
    let ints = list_of::<UInt64Type>(vec![Some(vec![Some(1)]), Some(vec![Some(2)])], Layout::List);
    let (_, m) = error_of(vec![("embedding", ints)], None);
    assert!(m.contains("is list<uint64>"), "{m}");

    let npy = data::sample_npy();
    let e = read_embeddings(&npy, None).unwrap_err();
    assert!(matches!(e, ParquetError::NotParquet { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("games-3000.f16.npy: not a Parquet file"),
        "{e}"
    );

    let empty_dir = temp_file("empty-dir");
    std::fs::create_dir(&empty_dir).unwrap();
    let e = read_embeddings(&empty_dir, None).unwrap_err();
    assert!(matches!(e, ParquetError::NoShards { .. }), "{e}");
    std::fs::remove_dir(&empty_dir).unwrap();

    let e = read_embeddings(Path::new("/nonexistent/x.parquet"), None).unwrap_err();
    assert!(matches!(e, ParquetError::Io { .. }), "{e}");

    // No rows at all.
    let none = vector_column(&[], Layout::List, Float::F32);
    let (e, _) = error_of(vec![("embedding", none)], None);
    assert!(matches!(e, ParquetError::Empty { .. }), "{e}");
}
