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
