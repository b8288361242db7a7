//! `rqvae-train train --init-from`: fine-tuning a trained model.

use crate::common::{assert_clean_failure, assert_success, data, run, s, sample, scratch};
use crate::write_npy_f32;

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
    let model = data::default_model_path();
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
        rqvae::ids::fingerprint::model_fingerprint(&start)
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
