//! Parquet everywhere the CLI reads embeddings or ID tables: the same IDs as from `.npy`, the
//! `--column` option, `.parquet` tables out and in, and bad Parquet refused by name.

use crate::common::{assert_clean_failure, assert_success, data, run, s, scratch};
use arrow_array::types::{Float16Type, Float32Type};
use arrow_array::{ArrayRef, FixedSizeListArray, ListArray, RecordBatch, StringArray};
use half::f16;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rqvae::Embeddings;
use std::path::Path;
use std::sync::Arc;

/// Rows `start..end` of `x` as float32 lists.
fn f32_lists(x: &Embeddings, start: usize, end: usize) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
        (start..end).map(|r| Some(x.row(r).iter().map(|&v| Some(v)).collect::<Vec<_>>())),
    ))
}

/// Rows `start..end` of `x` as fixed-size float16 lists (the sample is float16: exact).
fn f16_fixed(x: &Embeddings, start: usize, end: usize) -> ArrayRef {
    Arc::new(
        FixedSizeListArray::from_iter_primitive::<Float16Type, _, _>(
            (start..end).map(|r| {
                Some(
                    x.row(r)
                        .iter()
                        .map(|&v| Some(f16::from_f32(v)))
                        .collect::<Vec<_>>(),
                )
            }),
            x.dim() as i32,
        ),
    )
}

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn titles(start: usize, end: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (start..end).map(|i| format!("item {i}")),
    ))
}

#[test]
fn encode_and_assign_on_parquet_shards_equal_the_same_on_npy() {
    let dir = scratch("parquet-same");
    let x = data::sample();
    let npy = data::sample_npy();
    // Shards of both layouts, split where no chunk boundary falls.
    let shards = dir.join("shards");
    std::fs::create_dir(&shards).unwrap();
    write(
        &shards.join("part-0.parquet"),
        vec![
            ("title", titles(0, 1100)),
            ("embedding", f32_lists(&x, 0, 1100)),
        ],
    );
    write(
        &shards.join("part-1.parquet"),
        vec![
            ("title", titles(1100, 3000)),
            ("embedding", f16_fixed(&x, 1100, 3000)),
        ],
    );
    let model = data::default_model_path();
    let m = s(&model);

    let ids = |input: &Path, name: &str| {
        let out = dir.join(name);
        assert_success(&run(&[
            "encode",
            "--model",
            m,
            "--embeddings",
            s(input),
            "--out",
            s(&out),
        ]));
        std::fs::read(out).unwrap()
    };
    assert_eq!(ids(&npy, "npy-ids.npy"), ids(&shards, "parquet-ids.npy"));

    let items = data::sample_items();
    let assign = |input: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "assign",
            "--model",
            m,
            "--embeddings",
            s(input),
            "--items",
            s(&items),
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        let result = run(&args);
        assert_success(&result);
    };
    let from_npy = dir.join("npy-table.jsonl");
    let from_parquet = dir.join("parquet-table.jsonl");
    assign(&npy, &from_npy, &[]);
    assign(&shards, &from_parquet, &[]);
    let jsonl = std::fs::read_to_string(&from_npy).unwrap();
    assert_eq!(jsonl, std::fs::read_to_string(&from_parquet).unwrap());

    // The table as Parquet: the same table; and grown from a Parquet table.
    let table = rqvae::ids::table::IdTable::from_jsonl(&jsonl).unwrap();
    let as_parquet = dir.join("table.parquet");
    assign(&shards, &as_parquet, &[]);
    assert_eq!(rqvae::ids::parquet::read_table(&as_parquet).unwrap(), table);
    let grown = dir.join("grown.jsonl");
    assign(&npy, &grown, &["--existing", s(&as_parquet)]);
    assert_eq!(
        std::fs::read_to_string(&grown).unwrap(),
        jsonl,
        "nothing new to add"
    );

    // eval reads a Parquet table and Parquet embeddings.
    let out = run(&[
        "eval",
        "--model",
        m,
        "--embeddings",
        s(&shards),
        "--table",
        s(&as_parquet),
        "--previous",
        s(&from_npy),
        "--queries",
        "200",
    ]);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 of 3000 common ids changed ID"), "{text}");
    let npy_eval = run(&[
        "eval",
        "--model",
        m,
        "--embeddings",
        s(&npy),
        "--queries",
        "200",
    ]);
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();
    let parquet_eval = run(&[
        "eval",
        "--model",
        m,
        "--embeddings",
        s(&shards),
        "--queries",
        "200",
    ]);
    assert_eq!(stdout(&npy_eval), stdout(&parquet_eval));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn column_names_the_vectors_and_bad_parquet_is_refused_by_name() {
    let dir = scratch("parquet-column");
    let x = data::sample_rows(300);
    let model = data::default_model_path();
    let m = s(&model);
    let two = dir.join("two.parquet");
    write(
        &two,
        vec![
            ("title", titles(0, 300)),
            ("vec", f32_lists(&x, 0, 300)),
            ("vec16", f16_fixed(&x, 0, 300)),
        ],
    );
    let encode = |input: &Path, out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args = vec![
            "encode",
            "--model",
            m,
            "--embeddings",
            s(input),
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        (run(&args), out)
    };
    let (result, _) = encode(&two, "none.npy", &[]);
    assert_clean_failure(
        &result,
        &[
            "two.parquet",
            "2 list-of-float columns",
            "--column",
            "title (utf8)",
        ],
    );
    let (result, a) = encode(&two, "a.npy", &["--column", "vec"]);
    assert_success(&result);
    let (result, b) = encode(&two, "b.npy", &["--column", "vec16"]);
    assert_success(&result);
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let (result, _) = encode(&two, "c.npy", &["--column", "nope"]);
    assert_clean_failure(&result, &["no column \"nope\"", "vec (list<float32>)"]);
    let (result, _) = encode(&two, "d.npy", &["--column", "title"]);
    assert_clean_failure(&result, &["column \"title\" is utf8"]);
    let (result, _) = encode(&data::sample_npy(), "e.npy", &["--column", "vec"]);
    assert_clean_failure(
        &result,
        &["column \"vec\" names a Parquet column", "read as .npy"],
    );

    // A NaN in row 250: the file and the row are named, in every command that reads vectors.
    let mut rows: Vec<f32> = x.as_slice().to_vec();
    rows[250 * x.dim() + 3] = f32::NAN;
    let nan = dir.join("nan.parquet");
    let lists = ListArray::from_iter_primitive::<Float32Type, _, _>(
        rows.chunks(x.dim())
            .map(|r| Some(r.iter().map(|&v| Some(v)).collect::<Vec<_>>())),
    );
    write(&nan, vec![("embedding", Arc::new(lists) as ArrayRef)]);
    let needles =
        ["nan.parquet: row 250 (row 250 of this file), column \"embedding\": element 3 is NaN"];
    let (result, _) = encode(&nan, "f.npy", &[]);
    assert_clean_failure(&result, &needles);
    let table = dir.join("t.parquet");
    assert_clean_failure(
        &run(&[
            "assign",
            "--model",
            m,
            "--embeddings",
            s(&nan),
            "--out",
            s(&table),
        ]),
        &needles,
    );
    assert_clean_failure(
        &run(&["eval", "--model", m, "--embeddings", s(&nan)]),
        &needles,
    );
    assert_clean_failure(
        &run(&[
            "train",
            "--embeddings",
            s(&nan),
            "--out",
            s(&dir.join("run")),
            "--epochs",
            "1",
        ]),
        &needles,
    );
    assert!(!table.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
