//! The `rqvae-train` binary as a user runs it: real files on disk, exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{assert_clean_failure, assert_success, run, s, sample, scratch};

fn write_npy_f32(path: &Path, rows: usize, cols: usize, f: impl Fn(usize) -> f32) {
    let values: Vec<f32> = (0..rows * cols).map(f).collect();
    std::fs::write(path, rqvae::npy::to_npy_bytes(&values, rows, cols)).unwrap();
}

#[test]
fn help_explains_every_command() {
    let out = run(&["--help"]);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["train", "eval", "encode", "export"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
    let out = run(&["train", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--embeddings",
        "--out",
        "--epochs",
        "--batch-size",
        "--resume",
        "--backend",
    ] {
        assert!(text.contains(flag), "train --help lacks {flag}");
    }
}

#[test]
fn bad_embeddings_files_get_clear_errors() {
    let dir = scratch("bad-inputs");
    let out_dir = dir.join("run");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.npy", Vec::new(), "empty"),
        ("text.npy", b"id,title\n1,foo\n".to_vec(), "not a .npy file"),
        (
            "ints.npy",
            rqvae::npy::to_npy_bytes(&[1i32, 2, 3, 4], 2, 2),
            "<i4",
        ),
        (
            "truncated.npy",
            {
                let mut b = rqvae::npy::to_npy_bytes(&[0.5f32; 8], 2, 4);
                b.truncate(b.len() - 3);
                b
            },
            "truncated",
        ),
        (
            "nan.npy",
            rqvae::npy::to_npy_bytes(&[0.1f32, 0.2, f32::NAN, 0.4], 2, 2),
            "row 1, column 0",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = run(&[
            "train",
            "--embeddings",
            s(&path),
            "--out",
            s(&out_dir),
            "--epochs",
            "1",
        ]);
        assert_clean_failure(&out, &[name, needle]);
        assert_said_once(&out, needle, &path);
    }
    let missing = dir.join("missing.npy");
    let out = run(&["train", "--embeddings", s(&missing), "--out", s(&out_dir)]);
    assert_clean_failure(&out, &["missing.npy"]);
    assert_said_once(&out, "cannot read", &missing);
}

/// The problem is stated once (outside the file's name): a message that repeats its own cause
/// reads as two errors.
fn assert_said_once(out: &Output, needle: &str, path: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr.replace(s(path), "");
    assert_eq!(
        message.matches(needle).count(),
        1,
        "{needle:?} repeated: {stderr}"
    );
}

#[test]
fn batch_larger_than_data_and_unwritable_output_are_refused() {
    let dir = scratch("batch");
    let small = dir.join("small.npy");
    write_npy_f32(&small, 10, 8, |i| (i as f32 * 0.37).sin());
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&dir.join("run")),
        "--batch-size",
        "64",
    ]);
    assert_clean_failure(&out, &["batch size 64", "10 rows"]);

    // No epochs would write an untrained model as if it were a result.
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&dir.join("no-epochs")),
        "--epochs",
        "0",
        "--batch-size",
        "4",
    ]);
    assert_clean_failure(&out, &["epochs must be at least 1"]);

    // A regular file where the run directory should go cannot be created as a directory.
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&blocker.join("run")),
        "--batch-size",
        "4",
    ]);
    assert_clean_failure(&out, &["cannot create run directory"]);
}

/// `--recipe semantic-ids` trains with the shipped default model's recipe, its penalty phase
/// following `--epochs`; naming a recipe and giving one as JSON at once is refused.
#[test]
fn named_recipes_set_the_whole_recipe() {
    let dir = scratch("recipe");
    let small = dir.join("small.npy");
    write_npy_f32(&small, 600, 8, |i| (i as f32 * 0.37).sin());
    let run_dir = dir.join("run");
    std::fs::write(
        dir.join("cfg.json"),
        r#"{"hidden_dims": [16], "latent_dim": 4, "levels": 3, "codebook_size": 8}"#,
    )
    .unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&run_dir),
        "--recipe",
        "semantic-ids",
        "--epochs",
        "5",
        "--config",
        s(&dir.join("cfg.json")),
        "--eval-queries",
        "50",
    ]);
    assert_success(&out);
    let recipe: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("train.json")).unwrap())
            .unwrap();
    assert_eq!(recipe["batch_size"], 512);
    assert_eq!(recipe["lr"], 1e-3);
    assert_eq!(
        recipe["collision_weight"],
        serde_json::json!([0.0, 1.0, 3.0])
    );
    assert_eq!(recipe["collision_from_epoch"], 4);
    assert_eq!(recipe["usage_weight"], serde_json::json!([0.3, 0.0, 0.0]));

    std::fs::write(dir.join("recipe.json"), r#"{"epochs": 2}"#).unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&small),
        "--out",
        s(&dir.join("run2")),
        "--recipe",
        "semantic-ids",
        "--train-config",
        s(&dir.join("recipe.json")),
    ]);
    assert_clean_failure(&out, &["--recipe", "--train-config"]);
}

/// `--init-from` fine-tunes a trained model: the run starts from its weights and sizes and
/// records where it came from; what would discard the model, or does not fit the data, is refused.
#[test]
fn init_from_fine_tunes_a_trained_model() {
    let fine_tune = |data: &str, out: &str, model: &str, rest: &[&str]| {
        let args = [
            "train",
            "--embeddings",
            data,
            "--out",
            out,
            "--init-from",
            model,
        ];
        run(&[&args[..], rest].concat())
    };
    let dir = scratch("init-from");
    let model = default_model();
    let run_dir = dir.join("tuned");
    let out = fine_tune(
        s(&sample()),
        s(&run_dir),
        s(&model),
        &[
            "--epochs",
            "1",
            "--batch-size",
            "1000",
            "--lr",
            "1e-5",
            "--eval-queries",
            "200",
        ],
    );
    assert_success(&out);
    let start = rqvae::ModelWeights::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    let tuned =
        rqvae::ModelWeights::from_bytes(&std::fs::read(run_dir.join("model.safetensors")).unwrap())
            .unwrap();
    assert_eq!(tuned.config, start.config);
    let origin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("init_from.json")).unwrap())
            .unwrap();
    assert_eq!(
        origin["fingerprint"],
        rqvae::fingerprint::model_fingerprint(&start)
    );
    // Two steps at LR 1e-5 from the model: its IDs barely move (a fresh model's would not match).
    let ids = |w: &rqvae::ModelWeights| {
        let x = rqvae::npy::read_embeddings(&sample()).unwrap();
        rqvae::HostModel::new(w)
            .unwrap()
            .encode(x.as_slice(), x.rows())
    };
    let (before, after) = (ids(&start), ids(&tuned));
    let same = before.iter().zip(&after).filter(|(a, b)| a == b).count();
    assert!(
        same * 100 >= before.len() * 95,
        "only {same} of {} codes kept after a tiny fine-tune",
        before.len()
    );

    // The named second stages: the default model's (a weak code-usage term on A and B), and
    // the balanced variant (a strong one). Each needs a model to start from.
    for (name, usage_weight) in [
        ("collision-fine-tune", serde_json::json!([0.3, 0.1, 0.0])),
        ("balanced-fine-tune", serde_json::json!([3.0, 1.0, 0.0])),
    ] {
        let out = fine_tune(
            s(&sample()),
            s(&dir.join(name)),
            s(&model),
            &[
                "--recipe",
                name,
                "--epochs",
                "1",
                "--batch-size",
                "1000",
                "--eval-queries",
                "200",
            ],
        );
        assert_success(&out);
        let recipe: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(name).join("train.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(recipe["lr"], 5e-5, "{name}");
        assert_eq!(recipe["warmup_fraction"], 0.0, "{name}");
        assert_eq!(recipe["collision_from_epoch"], 0, "{name}");
        assert_eq!(
            recipe["collision_weight"],
            serde_json::json!([0.0, 0.0, 3.0]),
            "{name}"
        );
        assert_eq!(recipe["usage_weight"], usage_weight, "{name}");
        let out = run(&[
            "train",
            "--embeddings",
            s(&sample()),
            "--out",
            s(&dir.join(format!("{name}-without-model"))),
            "--recipe",
            name,
        ]);
        assert_clean_failure(&out, &[name, "--init-from"]);
    }

    let headless = dir.join("headless.safetensors");
    let out = run(&[
        "export",
        "--run",
        s(&run_dir),
        "--out",
        s(&headless),
        "--no-decoder",
    ]);
    assert_success(&out);
    let out = fine_tune(
        s(&sample()),
        s(&dir.join("r2")),
        s(&headless),
        &["--batch-size", "1000"],
    );
    assert_clean_failure(&out, &["headless.safetensors", "no decoder"]);
    let narrow = dir.join("narrow.npy");
    write_npy_f32(&narrow, 100, 8, |i| i as f32);
    let out = fine_tune(s(&narrow), s(&dir.join("r3")), s(&model), &[]);
    assert_clean_failure(&out, &["768-d", "narrow.npy", "dimension 8"]);
    let out = fine_tune(s(&sample()), s(&dir.join("r4")), s(&narrow), &[]);
    assert_clean_failure(&out, &["--init-from", "narrow.npy", "safetensors"]);
    let out = fine_tune(s(&sample()), s(&run_dir), s(&model), &["--resume"]);
    assert_clean_failure(&out, &["--init-from", "--resume"]);
}

/// Trains a tiny run once and exercises eval, encode, export and the model checks on it.
#[test]
fn train_eval_encode_export_round_trip() {
    let dir = scratch("roundtrip");
    let run_dir = dir.join("run");
    let config = dir.join("small.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [64], "latent_dim": 8, "levels": 2, "codebook_size": 16}"#,
    )
    .unwrap();
    let out = run(&[
        "train",
        "--embeddings",
        s(&sample()),
        "--out",
        s(&run_dir),
        "--config",
        s(&config),
        "--epochs",
        "3",
        "--batch-size",
        "500",
        "--checkpoint-every",
        "2",
        "--eval-queries",
        "200",
    ]);
    assert_success(&out);
    for file in [
        "config.json",
        "train.json",
        "log.jsonl",
        "model.safetensors",
        "metrics.json",
    ] {
        assert!(run_dir.join(file).is_file(), "run directory lacks {file}");
    }
    let log = std::fs::read_to_string(run_dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "one log line per epoch");

    // Training again into the same directory must not overwrite it.
    let again = run(&["train", "--embeddings", s(&sample()), "--out", s(&run_dir)]);
    assert_clean_failure(&again, &["already holds a run", "--resume"]);

    let model = run_dir.join("model.safetensors");
    let json = dir.join("metrics.json");
    let out = run(&[
        "eval",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--json",
        s(&json),
        "--queries",
        "200",
    ]);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("NN overlap@5"));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(metrics["items"], 2000);
    assert_eq!(metrics["levels"].as_array().unwrap().len(), 2);

    // IDs in all three formats agree with each other.
    let npy = dir.join("ids.npy");
    let csv = dir.join("ids.csv");
    let recon = dir.join("recon.npy");
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--out",
        s(&npy),
        "--recon",
        s(&recon),
    ]);
    assert_success(&out);
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample()),
        "--out",
        s(&csv),
    ]);
    assert_success(&out);
    let npy_bytes = std::fs::read(&npy).unwrap();
    let header_end = npy_bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(String::from_utf8_lossy(&npy_bytes[..header_end]).contains("(2000, 2)"));
    let ids: Vec<i32> = npy_bytes[header_end..]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv_text.lines();
    assert_eq!(lines.next(), Some("row,code_0,code_1"));
    for (i, line) in lines.enumerate() {
        let expected = format!("{i},{},{}", ids[2 * i], ids[2 * i + 1]);
        assert_eq!(line, expected);
    }
    let (recon, _) = rqvae::npy::read_embeddings_bytes(&std::fs::read(&recon).unwrap()).unwrap();
    assert_eq!((recon.rows(), recon.dim()), (2000, 768));

    // Export f16 without decoder: smaller, same IDs.
    let exported = dir.join("browser.safetensors");
    let out = run(&[
        "export",
        "--run",
        s(&run_dir),
        "--out",
        s(&exported),
        "--f16",
        "--no-decoder",
    ]);
    assert_success(&out);
    assert!(
        std::fs::metadata(&exported).unwrap().len() < std::fs::metadata(&model).unwrap().len() / 2
    );
    let out = run(&[
        "eval",
        "--model",
        s(&exported),
        "--embeddings",
        s(&sample()),
    ]);
    assert_clean_failure(&out, &["no decoder"]);

    // Wrong dimension for the model.
    let narrow = dir.join("narrow.npy");
    write_npy_f32(&narrow, 5, 10, |i| i as f32);
    let out = run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&narrow),
        "--out",
        s(&npy),
    ]);
    assert_clean_failure(&out, &["narrow.npy", "dimension is 10", "expects 768"]);

    // A model file whose tensors disagree with its config.
    let mut bytes = std::fs::read(&model).unwrap();
    // Search the raw bytes: the header's length prefix is not UTF-8, so offsets into a lossy
    // string would be shifted.
    let needle = br#"\"latent_dim\":8"#;
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("config in metadata");
    bytes[at + needle.len() - 1] = b'9';
    let broken = dir.join("broken.safetensors");
    std::fs::write(&broken, &bytes).unwrap();
    let out = run(&["eval", "--model", s(&broken), "--embeddings", s(&sample())]);
    assert_clean_failure(&out, &["broken.safetensors", "shape"]);

    // A truncated model file.
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["eval", "--model", s(&broken), "--embeddings", s(&sample())]);
    assert_clean_failure(&out, &["broken.safetensors"]);
}

/// A run stopped after its checkpoint resumes and finishes with the epoch count it started with.
#[test]
fn resume_continues_a_stopped_run() {
    let dir = scratch("resume");
    let run_dir = dir.join("run");
    let sample = sample();
    let config = dir.join("small.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [32], "latent_dim": 4, "levels": 2, "codebook_size": 8}"#,
    )
    .unwrap();
    let base = [
        "train",
        "--embeddings",
        s(&sample),
        "--out",
        s(&run_dir),
        "--batch-size",
        "1000",
        "--eval-queries",
        "100",
        "--checkpoint-every",
        "2",
    ];
    let mut first: Vec<&str> = base.to_vec();
    first.extend(["--config", s(&config), "--epochs", "4"]);
    let out = run(&first);
    assert_success(&out);
    // Drop the final model as if the run had been killed after its last checkpoint, then resume
    // asking for 6 epochs in all.
    std::fs::remove_file(run_dir.join("model.safetensors")).unwrap();
    let mut resume: Vec<&str> = base.to_vec();
    resume.extend(["--resume", "--epochs", "6"]);
    let out = run(&resume);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert!(run_dir.join("model.safetensors").is_file());
    let state = std::fs::read_to_string(run_dir.join("checkpoint/state.json")).unwrap();
    assert!(state.contains("\"epochs_done\": 6"), "{state}");

    let missing = dir.join("nothing-here");
    let mut bad: Vec<&str> = base.to_vec();
    bad[4] = s(&missing);
    bad.push("--resume");
    let out = run(&bad);
    assert_clean_failure(&out, &["no checkpoint to resume"]);
}

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(name)
}

fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/models/default.safetensors")
}

/// Rows `start..end` of the full shared embeddings as a float32 .npy (f16 widens exactly), and
/// the matching lines of the catalog as an items file.
fn catalog_slice(dir: &Path, start: usize, end: usize) -> (PathBuf, PathBuf) {
    let x =
        rqvae::npy::read_embeddings(&shared("embeddings_all-mpnet-base-v2_768d.f16.npy")).unwrap();
    let npy = dir.join(format!("rows-{start}-{end}.npy"));
    let bytes = rqvae::npy::to_npy_bytes(x.slice_rows(start, end), end - start, x.dim());
    std::fs::write(&npy, bytes).unwrap();
    let catalog = std::fs::read_to_string(shared("catalog.jsonl")).unwrap();
    let items = dir.join(format!("items-{start}-{end}.jsonl"));
    let lines: Vec<&str> = catalog.lines().skip(start).take(end - start).collect();
    std::fs::write(&items, lines.join("\n") + "\n").unwrap();
    (npy, items)
}

/// `rqvae-train assign --model MODEL --embeddings NPY` followed by `rest`.
fn assign(model: &str, npy: &str, rest: &[&str]) -> Output {
    let mut args = vec!["assign", "--model", model, "--embeddings", npy];
    args.extend_from_slice(rest);
    run(&args)
}

fn table_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn full_ids(lines: &[serde_json::Value]) -> Vec<(serde_json::Value, Vec<u64>)> {
    lines
        .iter()
        .map(|v| {
            let codes = v["codes"].as_array().unwrap();
            (
                v["id"].clone(),
                codes.iter().map(|c| c.as_u64().unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn assign_gives_the_whole_catalog_unique_ids_and_grows_without_moving_any() {
    let dir = scratch("assign");
    let model = default_model();
    let m = s(&model);
    let all = dir.join("all.jsonl");
    let catalog = shared("catalog.jsonl");
    let (all_npy, _) = catalog_slice(&dir, 0, 16_859);
    let report = dir.join("report.json");
    let out = assign(
        m,
        s(&all_npy),
        &[
            "--items",
            s(&catalog),
            "--out",
            s(&all),
            "--report",
            s(&report),
        ],
    );
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("re-assignment cost, cosine(input, decode)"),
        "{stderr}"
    );
    let lines = table_lines(&all);
    assert_eq!(lines.len(), 16_859);
    let ids = full_ids(&lines);
    let unique: std::collections::HashSet<&Vec<u64>> = ids.iter().map(|(_, c)| c).collect();
    assert_eq!(unique.len(), 16_859, "every full ID unique");
    let triples: std::collections::HashSet<&[u64]> = ids.iter().map(|(_, c)| &c[..3]).collect();
    assert!(
        triples.len() as f64 / 16_859.0 >= 0.99,
        "{} distinct (A,B,C)",
        triples.len()
    );
    for (row, (id, _)) in ids.iter().enumerate() {
        assert_eq!(id.as_u64(), Some(row as u64), "ids from catalog.jsonl");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // 455 rows repeat an earlier row exactly, so at most 97.3 % of the nearest (A, B, C) can be
    // distinct: resolution had work to do, and did it.
    let nearest = report["assign"]["unique_nearest"].as_f64().unwrap();
    assert!(nearest < 0.974, "nearest codes {nearest} unique");
    assert_eq!(report["table"]["unique_full_fraction"], 1.0);

    // Rows 0..15,000 first, then the rest added to that table.
    let (a_npy, a_items) = catalog_slice(&dir, 0, 15_000);
    let (b_npy, b_items) = catalog_slice(&dir, 15_000, 16_859);
    let first = dir.join("first.jsonl");
    let grown = dir.join("grown.jsonl");
    assert_success(&assign(
        m,
        s(&a_npy),
        &["--items", s(&a_items), "--out", s(&first)],
    ));
    assert_success(&assign(
        m,
        s(&b_npy),
        &[
            "--items",
            s(&b_items),
            "--existing",
            s(&first),
            "--out",
            s(&grown),
        ],
    ));
    let before = full_ids(&table_lines(&first));
    let after = full_ids(&table_lines(&grown));
    assert_eq!(after.len(), 16_859);
    assert_eq!(
        after[..15_000],
        before[..],
        "the first 15,000 items keep exactly their IDs"
    );
    let unique: std::collections::HashSet<&Vec<u64>> = after.iter().map(|(_, c)| c).collect();
    assert_eq!(unique.len(), 16_859);
    // Chunking does not matter: the same table as assigning everything at once.
    assert_eq!(
        std::fs::read_to_string(&grown).unwrap(),
        std::fs::read_to_string(&all).unwrap()
    );

    // The same add with a model whose weights differ in one value is refused.
    let mut weights = rqvae::ModelWeights::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    weights.codebooks[0][0] += 0.5;
    let other = dir.join("other.safetensors");
    std::fs::write(&other, weights.to_bytes(rqvae::Precision::F32).unwrap()).unwrap();
    let refused = dir.join("refused.jsonl");
    let out = assign(
        s(&other),
        s(&b_npy),
        &[
            "--items",
            s(&b_items),
            "--existing",
            s(&first),
            "--out",
            s(&refused),
        ],
    );
    assert_clean_failure(
        &out,
        &[
            "cannot grow this table",
            "the table was made by model sha256:",
        ],
    );
    assert!(!refused.exists(), "nothing written");

    // eval reports the table and its churn from the first one.
    let out = run(&[
        "eval",
        "--model",
        m,
        "--embeddings",
        s(&all_npy),
        "--queries",
        "200",
        "--table",
        s(&grown),
        "--previous",
        s(&first),
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "collision-free rate",
        "level 0: Gini / entropy ratio",
        "0 of 15000 common ids changed ID (0.00 %); 0 removed, 1859 added",
    ] {
        assert!(stdout.contains(needle), "eval lacks {needle:?}: {stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn assign_refuses_bad_tables_and_items_with_clear_errors() {
    let dir = scratch("assign-errors");
    let model = default_model();
    let m = s(&model);
    let (npy, items) = catalog_slice(&dir, 0, 50);
    let table = dir.join("t.jsonl");
    assert_success(&assign(
        m,
        s(&npy),
        &["--items", s(&items), "--out", s(&table)],
    ));
    let out_path = dir.join("out.jsonl");
    let out = s(&out_path);

    let short = dir.join("short.jsonl");
    std::fs::write(&short, "{\"id\":1}\n{\"id\":2}\n").unwrap();
    let r = assign(m, s(&npy), &["--items", s(&short), "--out", out]);
    assert_clean_failure(&r, &["short.jsonl names 2 items but", "has 50 rows"]);

    let no_id = dir.join("no-id.jsonl");
    std::fs::write(&no_id, "{\"id\":1}\n{\"title\":\"x\"}\n").unwrap();
    let r = assign(m, s(&npy), &["--items", s(&no_id), "--out", out]);
    assert_clean_failure(
        &r,
        &["no-id.jsonl: not a usable items file", "line 2: no \"id\""],
    );

    let text = std::fs::read_to_string(&table).unwrap();
    let broken = dir.join("broken.jsonl");
    std::fs::write(&broken, text.replacen("\"codes\":[", "\"codes\":[9999,", 1)).unwrap();
    let r = assign(m, s(&npy), &["--existing", s(&broken), "--out", out]);
    assert_clean_failure(
        &r,
        &[
            "broken.jsonl: not a usable ID table",
            "line 1: 5 codes, expected 4",
        ],
    );

    // Without --items the new rows would be numbered 50..; this table holds id 50 already.
    let (next, next_items) = catalog_slice(&dir, 50, 60);
    let sparse = dir.join("sparse.jsonl");
    assert_success(&assign(
        m,
        s(&next),
        &["--items", s(&next_items), "--out", s(&sparse)],
    ));
    let r = assign(m, s(&npy), &["--existing", s(&sparse), "--out", out]);
    assert_clean_failure(
        &r,
        &[
            "numbered from 10",
            "id 50 is already in the table",
            "--items",
        ],
    );

    let r = assign(
        m,
        s(&npy),
        &["--existing", s(&table), "--no-reassign", "--out", out],
    );
    assert_clean_failure(&r, &["--no-reassign only applies to a new table"]);
    assert!(!out_path.exists());

    // The same items again: every one keeps its ID, nothing is added.
    let r = assign(
        m,
        s(&npy),
        &[
            "--items",
            s(&items),
            "--existing",
            s(&table),
            "--out",
            out,
            "--csv",
            s(&dir.join("t.csv")),
            "--lcrec",
            s(&dir.join("t.json")),
        ],
    );
    assert_success(&r);
    assert!(String::from_utf8_lossy(&r.stderr).contains("0 added, 50 kept their ID"));
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), text);
    let csv = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    assert!(csv.starts_with("item_id,sid_0,sid_1,sid_2,sid_3\n0,"));
    assert_eq!(csv.lines().count(), 51);
    std::fs::remove_dir_all(&dir).unwrap();
}
