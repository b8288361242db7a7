//! `rqvae-train train`: recipes, refused settings and resumed runs.

use crate::common::{assert_clean_failure, assert_success, run, s, sample, scratch};
use crate::write_npy_f32;

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

/// The rows of a float32 `.npy` file written by the trainer (`--sample-out`).
fn read_rows(path: &std::path::Path) -> rqvae::Embeddings {
    rqvae::npy::read_embeddings(path).unwrap()
}

/// `--sample N` trains on N rows drawn with `--seed`, in file order, records the draw in
/// `sample.json`, and draws the same rows again for the same seed; a sample at least as large as
/// the file is the whole file.
#[test]
fn sample_trains_on_a_seeded_sample_of_the_rows_in_file_order() {
    let dir = scratch("sample");
    let data = dir.join("data.npy");
    write_npy_f32(&data, 600, 8, |i| (i as f32 * 0.37).sin());
    let config = dir.join("cfg.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [16], "latent_dim": 4, "levels": 2, "codebook_size": 8}"#,
    )
    .unwrap();
    let train = |name: &str, extra: &[&str]| {
        let run_dir = dir.join(name);
        let rows = dir.join(format!("{name}.npy"));
        let mut args = vec![
            "train",
            "--embeddings",
            s(&data),
            "--out",
            s(&run_dir),
            "--config",
            s(&config),
            "--epochs",
            "2",
            "--batch-size",
            "50",
            "--eval-queries",
            "50",
            "--sample-out",
            s(&rows),
        ];
        args.extend(extra);
        let out = run(&args);
        assert_success(&out);
        (
            run_dir,
            rows,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (run_dir, rows, stderr) = train("a", &["--sample", "200"]);
    assert!(
        stderr.contains("sampled 200 of 600 rows"),
        "stderr: {stderr}"
    );
    assert!(run_dir.join("model.safetensors").is_file());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("sample.json")).unwrap())
            .unwrap();
    assert_eq!(record["rows"], 200);
    assert_eq!(record["of_rows"], 600);
    assert_eq!(record["seed"], 42);
    let all = read_rows(&data);
    let sample = read_rows(&rows);
    assert_eq!((sample.rows(), sample.dim()), (200, 8));
    // Every sampled row is a row of the file, and they come in the file's order.
    let mut at = 0;
    for k in 0..sample.rows() {
        while at < all.rows() && all.row(at) != sample.row(k) {
            at += 1;
        }
        assert!(at < all.rows(), "sampled row {k} is not in file order");
        at += 1;
    }

    let (_, again, _) = train("b", &["--sample", "200"]);
    assert_eq!(
        read_rows(&again),
        sample,
        "the same seed drew another sample"
    );
    let (_, other, _) = train("c", &["--sample", "200", "--seed", "7"]);
    assert_ne!(
        read_rows(&other),
        sample,
        "seeds 42 and 7 drew the same sample"
    );
    let (run_dir, whole, _) = train("d", &["--sample", "5000"]);
    assert_eq!(read_rows(&whole), all);
    let record = std::fs::read_to_string(run_dir.join("sample.json")).unwrap();
    assert!(record.contains("\"rows\": 600"), "{record}");
}

/// A run trained on a sample resumes on the same sample only: `--resume` must repeat `--sample`.
#[test]
fn a_sampled_run_resumes_with_the_same_sample_only() {
    let dir = scratch("sample-resume");
    let data = dir.join("data.npy");
    write_npy_f32(&data, 400, 8, |i| (i as f32 * 0.11).cos());
    let config = dir.join("cfg.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [16], "latent_dim": 4, "levels": 2, "codebook_size": 8}"#,
    )
    .unwrap();
    let run_dir = dir.join("run");
    let base = [
        "train",
        "--embeddings",
        s(&data),
        "--out",
        s(&run_dir),
        "--batch-size",
        "50",
        "--eval-queries",
        "50",
        "--checkpoint-every",
        "1",
    ];
    let mut first = base.to_vec();
    first.extend(["--config", s(&config), "--epochs", "2", "--sample", "150"]);
    assert_success(&run(&first));
    std::fs::remove_file(run_dir.join("model.safetensors")).unwrap();

    let mut without = base.to_vec();
    without.extend(["--resume", "--epochs", "3"]);
    assert_clean_failure(&run(&without), &["sample of 150 rows", "--sample 150"]);
    let mut other = without.clone();
    other.extend(["--sample", "100"]);
    assert_clean_failure(&run(&other), &["sample of 150 rows", "--sample 150"]);
    let mut same = without.clone();
    same.extend(["--sample", "150"]);
    let out = run(&same);
    assert_success(&out);
    let state = std::fs::read_to_string(run_dir.join("checkpoint/state.json")).unwrap();
    assert!(state.contains("\"epochs_done\": 3"), "{state}");
}

#[test]
fn a_sample_of_no_rows_or_not_a_number_is_refused_with_a_reason() {
    let dir = scratch("sample-bad");
    let data = dir.join("data.npy");
    write_npy_f32(&data, 100, 8, |i| i as f32);
    let out_dir = dir.join("run");
    let with = |value: &str| {
        run(&[
            "train",
            "--embeddings",
            s(&data),
            "--out",
            s(&out_dir),
            "--sample",
            value,
        ])
    };
    assert_clean_failure(&with("0"), &["--sample", "at least 1 row"]);
    assert_clean_failure(&with("ten"), &["--sample", "'ten'", "not a number of rows"]);
    let out = run(&[
        "train",
        "--embeddings",
        s(&data),
        "--out",
        s(&out_dir),
        "--sample=-5",
    ]);
    assert_clean_failure(&out, &["--sample", "'-5'", "not a number of rows"]);
    let out = run(&[
        "train",
        "--embeddings",
        s(&data),
        "--out",
        s(&out_dir),
        "--sample-out",
        s(&dir.join("x.npy")),
    ]);
    assert_clean_failure(&out, &["--sample"]);
    assert!(
        !out_dir.exists(),
        "a refused command made its run directory"
    );
}
