//! `rqvae-train` on anisotropic embeddings, as a user with E5-like vectors meets it: `train`
//! centres them and says so, and `eval`, `export`, `card` and `--init-from` keep the transform.

use crate::common::{assert_clean_failure, assert_success, data, run, s, sample, scratch};
use std::path::Path;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails unless `text` (a command's output) contains `needle`, showing the text.
fn says(text: &str, needle: &str) {
    assert!(text.contains(needle), "lacks {needle:?}: {text}");
}

fn train(embeddings: &Path, out: &Path, rest: &[&str]) -> std::process::Output {
    let args = [
        "train",
        "--embeddings",
        s(embeddings),
        "--out",
        s(out),
        "--recipe",
        "semantic-ids",
        "--epochs",
        "3",
        "--eval-queries",
        "200",
    ];
    run(&[&args[..], rest].concat())
}

/// The `format_version` a weights file's safetensors header records.
fn format_version(model: &Path) -> String {
    let bytes = std::fs::read(model).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header["__metadata__"]["format_version"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn train_centres_anisotropic_embeddings_and_every_command_keeps_the_transform() {
    let dir = scratch("anisotropic");
    let x = data::sample_rows(2000);
    let moved = dir.join("shifted.npy");
    std::fs::write(
        &moved,
        rqvae::npy::to_npy_bytes(&data::shifted(x.as_slice(), x.dim()), 2000, x.dim()),
    )
    .unwrap();

    // The shifted rows are centred, and the first line says why.
    let run_dir = dir.join("run");
    let out = train(&moved, &run_dir, &[]);
    assert_success(&out);
    says(
        &stderr(&out),
        "random pairs' mean cosine 0.90 > 0.5: inputs centred on their mean",
    );
    let model = run_dir.join("model.safetensors");
    assert_eq!(format_version(&model), "2");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["input_centred"], true);
    assert!(
        !stdout(&out).contains("warning: the input"),
        "{}",
        stdout(&out)
    );

    // eval says the model centres them; an F16 export keeps the transform, and its card says so.
    let out = run(&[
        "eval",
        "--model",
        s(&model),
        "--embeddings",
        s(&moved),
        "--queries",
        "200",
    ]);
    assert_success(&out);
    says(&stdout(&out), "(the model centres them)");
    let exported = dir.join("model.f16.safetensors");
    assert_success(&run(&[
        "export",
        "--run",
        s(&run_dir),
        "--out",
        s(&exported),
        "--f16",
    ]));
    assert_eq!(format_version(&exported), "2");
    let card = dir.join("model.json");
    assert_success(&run(&["card", "--model", s(&exported), "--out", s(&card)]));
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&card).unwrap()).unwrap();
    assert_eq!(card["input_transform"]["kind"], "center");
    assert_eq!(card["precision"], "f16");

    // Fine-tuning keeps the model's transform and refuses a flag that would drop it.
    let tuned_dir = dir.join("tuned");
    let fine_tune = |rest: &[&str]| {
        let args = [
            "train",
            "--embeddings",
            s(&moved),
            "--out",
            s(&tuned_dir),
            "--init-from",
            s(&model),
            "--recipe",
            "collision-fine-tune",
            "--epochs",
            "1",
            "--batch-size",
            "1000",
            "--eval-queries",
            "200",
        ];
        run(&[&args[..], rest].concat())
    };
    let out = fine_tune(&["--input-transform", "none"]);
    assert_clean_failure(
        &out,
        &[
            "--init-from",
            "input_transform \"none\"",
            "centres its inputs",
        ],
    );
    assert!(!tuned_dir.join("model.safetensors").exists());
    let out = fine_tune(&[]);
    assert_success(&out);
    says(&stderr(&out), "input: centred on the model's mean");
    let tuned = tuned_dir.join("model.safetensors");
    assert_eq!(format_version(&tuned), "2");
    let input = |path: &Path| {
        rqvae::ModelWeights::from_bytes(&std::fs::read(path).unwrap())
            .unwrap()
            .input
    };
    assert_eq!(input(&tuned), input(&model));

    // Taken as they are on request: the report warns and names the way out.
    let as_is = dir.join("as-is");
    let out = train(&moved, &as_is, &["--input-transform", "none"]);
    assert_success(&out);
    says(&stderr(&out), "used as they are (--input-transform none)");
    assert_eq!(format_version(&as_is.join("model.safetensors")), "1");
    says(&stdout(&out), "train with --input-transform auto");

    // The plain sample is isotropic: `auto` leaves it alone and the model stays version 1.
    let plain = dir.join("plain");
    let out = train(&sample(), &plain, &[]);
    assert_success(&out);
    says(&stderr(&out), "≤ 0.5: inputs used as they are");
    assert_eq!(format_version(&plain.join("model.safetensors")), "1");
}
