//! `rqvae-train embed` and `--text-model`: titles in, vectors (and IDs) out, with the default
//! text model; bad items and bad models refused with the file and the line.

use crate::common::{assert_clean_failure, assert_success, data, run, s, scratch};
use std::path::Path;

fn read_f32_npy(path: &Path) -> (Vec<f32>, usize, usize) {
    let x = rqvae::npy::read_embeddings(path).unwrap();
    (x.as_slice().to_vec(), x.rows(), x.dim())
}

/// The first `n` reference texts that are titles (not edge cases), as a JSON Lines items file.
fn titles_file(dir: &Path, n: usize) -> std::path::PathBuf {
    let reference = data::text_reference();
    let path = dir.join("titles.jsonl");
    let lines: Vec<String> = reference.texts[..n]
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({ "id": i, "title": t }).to_string())
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn embed_turns_titles_into_sentence_transformers_vectors_from_a_directory_or_a_bundle() {
    let dir = scratch("embed");
    let reference = data::text_reference();
    let items = titles_file(&dir, 40);
    let model = data::text_model_dir();
    let out = dir.join("vectors.npy");
    let r = run(&[
        "embed",
        "--text-model",
        s(&model),
        "--items",
        s(&items),
        "--out",
        s(&out),
    ]);
    assert_success(&r);
    assert!(String::from_utf8_lossy(&r.stderr).contains("embedded 40 items"));
    let (vectors, rows, dim) = read_f32_npy(&out);
    assert_eq!((rows, dim), (40, 384));
    for (i, (ours, theirs)) in vectors
        .chunks_exact(dim)
        .zip(reference.embeddings.chunks_exact(dim))
        .enumerate()
    {
        let c = data::cosine(ours, theirs);
        assert!(c >= 0.9999, "title {i}: cosine {c}");
    }

    // The same model as one bundle file gives the same vectors up to f16 weights.
    let bundle = dir.join("minilm.text.safetensors");
    assert_success(&run(&[
        "export",
        "--text-model",
        s(&model),
        "--out",
        s(&bundle),
    ]));
    let out2 = dir.join("vectors2.npy");
    assert_success(&run(&[
        "embed",
        "--text-model",
        s(&bundle),
        "--items",
        s(&items),
        "--out",
        s(&out2),
    ]));
    let (bundled, _, _) = read_f32_npy(&out2);
    for (a, b) in bundled.chunks_exact(dim).zip(vectors.chunks_exact(dim)) {
        assert!(data::cosine(a, b) >= 0.9999);
    }

    // A CSV with a header and another title column.
    let csv = dir.join("titles.csv");
    std::fs::write(
        &csv,
        "sku,name\nA1,\"Halo 3, Limited Edition\"\nA2,Super Mario 64\n",
    )
    .unwrap();
    let out3 = dir.join("csv.npy");
    assert_success(&run(&[
        "embed",
        "--text-model",
        s(&bundle),
        "--items",
        s(&csv),
        "--field",
        "name",
        "--out",
        s(&out3),
    ]));
    assert_eq!(read_f32_npy(&out3).1, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn embed_refuses_bad_items_and_models_naming_the_file_and_line_and_writes_nothing() {
    let dir = scratch("embed-errors");
    let model = data::text_model_dir();
    let out = dir.join("out.npy");
    let cases: Vec<(&str, &[u8], Vec<&str>)> = vec![
        (
            "empty-title.jsonl",
            b"{\"title\": \"Zelda\"}\n{\"title\": \" \"}\n",
            vec!["empty-title.jsonl: line 2: the title is blank"],
        ),
        (
            "no-field.jsonl",
            b"{\"name\": \"Zelda\"}\n",
            vec!["no-field.jsonl: line 1: no \"title\" field", "--field"],
        ),
        (
            "bad-utf8.jsonl",
            b"{\"title\": \"caf\xe9\"}\n",
            vec!["bad-utf8.jsonl: line 1: not valid UTF-8"],
        ),
        ("nothing.jsonl", b"", vec!["nothing.jsonl: no items"]),
        (
            "titles.txt",
            b"Zelda\n",
            vec!["titles.txt: items must be JSON Lines (.jsonl) or CSV (.csv)"],
        ),
    ];
    for (name, bytes, needles) in cases {
        let items = dir.join(name);
        std::fs::write(&items, bytes).unwrap();
        let r = run(&[
            "embed",
            "--text-model",
            s(&model),
            "--items",
            s(&items),
            "--out",
            s(&out),
        ]);
        assert_clean_failure(&r, &needles);
        assert!(!out.exists(), "{name}: nothing written");
    }
    let items = titles_file(&dir, 3);
    // Not a text model: an RQ-VAE weights file, and a directory without one.
    let r = run(&[
        "embed",
        "--text-model",
        s(&data::default_model_path()),
        "--items",
        s(&items),
        "--out",
        s(&out),
    ]);
    assert_clean_failure(&r, &["default.safetensors", "it is an RQ-VAE weights file"]);
    let r = run(&[
        "embed",
        "--text-model",
        s(&dir),
        "--items",
        s(&items),
        "--out",
        s(&out),
    ]);
    assert_clean_failure(&r, &["modules.json", "cannot read"]);
    // Titles embedded by a 384-d model do not fit the 768-d default RQ-VAE.
    let table = dir.join("table.jsonl");
    let r = run(&[
        "assign",
        "--model",
        s(&data::default_model_path()),
        "--text-model",
        s(&model),
        "--items",
        s(&items),
        "--out",
        s(&table),
    ]);
    assert_clean_failure(&r, &["does not fit the model", "768", "384"]);
    assert!(!table.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("vectors"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary vectors left behind: {leftovers:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn assign_turns_a_titles_only_csv_into_a_table_of_unique_ids_in_one_command() {
    let dir = scratch("assign-titles");
    let reference = data::text_reference();
    let csv = dir.join("shop.csv");
    let mut text = String::from("sku,title\n");
    for (i, t) in reference.texts[..40].iter().enumerate() {
        text.push_str(&format!("A{i},\"{}\"\n", t.replace('"', "\"\"")));
    }
    std::fs::write(&csv, text).unwrap();
    let model = data::repo_root().join("www/models/minilm.safetensors");
    let table = dir.join("ids.jsonl");
    let r = run(&[
        "assign",
        "--model",
        s(&model),
        "--text-model",
        s(&data::text_model_dir()),
        "--items",
        s(&csv),
        "--out",
        s(&table),
    ]);
    assert_success(&r);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&table)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    // No "id" column: the items are numbered by row; every full ID is unique.
    assert_eq!(lines[39]["id"], 39);
    let unique: std::collections::HashSet<String> =
        lines.iter().map(|l| l["codes"].to_string()).collect();
    assert_eq!(unique.len(), 40);
    // encode takes titles too, and gives the nearest codes the table started from.
    let codes = dir.join("codes.csv");
    assert_success(&run(&[
        "encode",
        "--model",
        s(&model),
        "--text-model",
        s(&data::text_model_dir()),
        "--items",
        s(&csv),
        "--out",
        s(&codes),
    ]));
    assert_eq!(std::fs::read_to_string(&codes).unwrap().lines().count(), 41);
    std::fs::remove_dir_all(&dir).unwrap();
}
