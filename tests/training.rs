//! Short CPU training runs on the real 2,000-item sample with both engines: the model learns,
//! codes stay in use, checkpoints resume, and bad recipes are refused.

mod common;
use burn::backend::{Autodiff, NdArray};
use common::{sample, unique_temp_path};
use rqvae::inference::{encode_ids, evaluate_model};
use rqvae::train::{BurnEngine, CpuDevice, CpuEngine, Engine, TrainConfig, TrainError, Trainer};
use rqvae::{EvalOptions, RqVaeConfig};

/// burn's autodiff on its CPU backend: the engine CUDA runs, checked here without a GPU.
type AD = BurnEngine<Autodiff<NdArray<f32>>>;

/// A model and recipe small enough that the checkpoint tests run several epochs in seconds.
fn resume_recipe() -> (RqVaeConfig, TrainConfig) {
    let config = RqVaeConfig {
        input_dim: 768,
        hidden_dims: vec![64],
        latent_dim: 8,
        levels: 2,
        codebook_size: 16,
    };
    let train = TrainConfig {
        epochs: 4,
        batch_size: 500,
        ..Default::default()
    };
    (config, train)
}

fn eval_options() -> EvalOptions {
    EvalOptions {
        queries: Some(500),
        ..Default::default()
    }
}

#[test]
fn training_improves_reconstruction_and_keeps_codes_alive() {
    trains_the_sample::<AD>(&Default::default(), "burn autodiff");
}

#[test]
fn cpu_engine_improves_reconstruction_and_keeps_codes_alive() {
    trains_the_sample::<CpuEngine>(&CpuDevice, "CPU engine");
}

/// 30 epochs of the reference model on the sample with engine `E`: losses fall, cosine rises,
/// level 0 keeps its codes, and the IDs evaluation reports are the model's.
fn trains_the_sample<E: Engine>(engine_device: &E::Device, name: &str) {
    let device = Default::default();
    let data = sample();
    let config = RqVaeConfig::with_input_dim(768);
    let train = TrainConfig {
        epochs: 30,
        batch_size: 500,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let mut trainer =
        Trainer::<E>::new(config.clone(), train.clone(), &data, engine_device).unwrap();
    let model = |t: &Trainer<E>| t.weights().to_model::<NdArray<f32>>(&device);

    // Before any step (codebooks already placed by k-means in `new`).
    let (before, _) =
        evaluate_model(&model(&trainer), &config, &data, eval_options(), &device).unwrap();

    let mut reports = Vec::new();
    for _ in 0..train.epochs {
        reports.push(trainer.run_epoch());
    }
    assert_eq!(trainer.epochs_done, train.epochs);
    let first = &reports[0];
    let last = reports.last().unwrap();
    assert_eq!(last.epoch, train.epochs);
    assert!(reports
        .iter()
        .all(|r| r.recon_loss.is_finite() && r.codebook_loss.is_finite()));
    assert!(
        last.recon_loss < first.recon_loss,
        "{name}: reconstruction loss did not fall: {} → {}",
        first.recon_loss,
        last.recon_loss
    );

    let model = model(&trainer);
    let (after, ids) = evaluate_model(&model, &config, &data, eval_options(), &device).unwrap();
    eprintln!(
        "{name}: {} epochs in {:.1} s\nbefore:\n{}after:\n{}",
        train.epochs,
        started.elapsed().as_secs_f64(),
        before.table(),
        after.table()
    );
    assert_eq!(ids.len(), 2000 * config.levels);
    assert!(ids.iter().all(|&id| (id as usize) < config.codebook_size));
    assert!(after.cosine_mean.is_finite());
    assert!(
        after.cosine_mean > before.cosine_mean + 0.05,
        "{name}: cosine did not improve: {:.4} → {:.4}",
        before.cosine_mean,
        after.cosine_mean
    );
    let level0 = &after.levels[0];
    assert!(
        level0.utilisation >= 0.90 && level0.used >= 231,
        "{name}: level 0 uses only {} of 256 codes",
        level0.used
    );
    // The IDs evaluate_model returned are the model's IDs.
    assert_eq!(ids, encode_ids(&model, &data, 777, &device));
}

#[test]
fn checkpoint_resume_restores_the_model() {
    let device = Default::default();
    let data = sample();
    let (config, train) = resume_recipe();
    let mut trainer = Trainer::<AD>::new(config.clone(), train.clone(), &data, &device).unwrap();
    trainer.run_epoch();
    trainer.run_epoch();
    assert_eq!(trainer.epochs_done, 2);

    let dir = unique_temp_path("ckpt");
    trainer.save_checkpoint(&dir).unwrap();
    // Saving again replaces the checkpoint in place.
    trainer.save_checkpoint(&dir).unwrap();
    let resumed = Trainer::<AD>::resume(&dir, train.clone(), &data, &device);
    let _ = std::fs::remove_dir_all(&dir);
    let mut resumed = resumed.unwrap();

    assert_eq!(resumed.epochs_done, 2);
    assert_eq!(resumed.config, config);
    assert_eq!(resumed.train, train);
    assert_eq!(resumed.weights(), trainer.weights());
    let saved_ids = encode_ids(&trainer.inference_model(), &data, 512, &device);
    let resumed_ids = encode_ids(&resumed.inference_model(), &data, 512, &device);
    assert_eq!(saved_ids, resumed_ids);
    // More than one code in use, so equal IDs mean something.
    assert!(saved_ids.iter().any(|&id| id != saved_ids[0]));

    // The resumed run carries on counting epochs.
    let report = resumed.run_epoch();
    assert_eq!(report.epoch, 3);
    assert_eq!(resumed.epochs_done, 3);
    assert!(report.recon_loss.is_finite());
}

#[test]
fn resume_errors() {
    let device = Default::default();
    let data = sample();
    let missing = unique_temp_path("no-such-checkpoint");
    match Trainer::<AD>::resume(&missing, TrainConfig::default(), &data, &device) {
        Err(TrainError::Checkpoint { path, .. }) => {
            assert_eq!(path, missing.display().to_string())
        }
        Err(other) => panic!("expected Checkpoint, got {other:?}"),
        Ok(_) => panic!("resumed from a missing checkpoint"),
    }
}

#[test]
fn bad_recipes_are_refused() {
    let device = Default::default();
    let data = sample();
    let config = RqVaeConfig::with_input_dim(768);

    let too_large = TrainConfig {
        batch_size: 2001,
        ..Default::default()
    };
    match Trainer::<AD>::new(config.clone(), too_large, &data, &device) {
        Err(TrainError::BatchTooLarge { batch, rows }) => assert_eq!((batch, rows), (2001, 2000)),
        Err(other) => panic!("expected BatchTooLarge, got {other:?}"),
        Ok(_) => panic!("batch 2001 accepted for 2000 rows"),
    }

    let zero = TrainConfig {
        batch_size: 0,
        ..Default::default()
    };
    assert!(matches!(
        Trainer::<AD>::new(config.clone(), zero, &data, &device),
        Err(TrainError::ZeroBatch)
    ));

    // A warm-up as long as the run would never initialise the codebooks.
    let all_warmup = TrainConfig {
        epochs: 3,
        ae_warmup_epochs: 3,
        batch_size: 500,
        ..Default::default()
    };
    match Trainer::<AD>::new(config.clone(), all_warmup, &data, &device) {
        Err(e @ TrainError::WarmupTooLong { .. }) => {
            assert!(e.to_string().contains("ae_warmup_epochs 3"), "{e}")
        }
        Err(other) => panic!("expected WarmupTooLong, got {other:?}"),
        Ok(_) => panic!("a run that is all warm-up was accepted"),
    }

    let small = TrainConfig {
        batch_size: 100,
        ..Default::default()
    };
    match Trainer::<AD>::new(RqVaeConfig::with_input_dim(1024), small, &data, &device) {
        Err(TrainError::Dim { expected, found }) => assert_eq!((expected, found), (1024, 768)),
        Err(other) => panic!("expected Dim, got {other:?}"),
        Ok(_) => panic!("768-d data accepted by a 1024-d model"),
    }
}

/// A resumed run continues exactly where the uninterrupted one would be: same weights after the
/// next epoch (the optimizer state survives the checkpoint).
#[test]
fn resume_matches_an_uninterrupted_run() {
    let device = Default::default();
    let data = sample();
    let (config, train) = resume_recipe();
    let dir = unique_temp_path("exact-resume");
    let mut trainer = Trainer::<AD>::new(config, train.clone(), &data, &device).unwrap();
    trainer.run_epoch();
    trainer.run_epoch();
    trainer.save_checkpoint(&dir).unwrap();
    trainer.run_epoch();
    let mut resumed = Trainer::<AD>::resume(&dir, train.clone(), &data, &device).unwrap();
    resumed.run_epoch();
    let diff = max_param_diff(&resumed.weights(), &trainer.weights());
    assert_eq!(
        diff, 0.0,
        "resumed weights differ from the uninterrupted run's"
    );

    // Anything but the epoch count must match the run's recipe.
    let changed = TrainConfig {
        lr: 1e-3,
        ..train.clone()
    };
    assert!(matches!(
        Trainer::<AD>::resume(&dir, changed, &data, &device),
        Err(TrainError::Checkpoint { .. })
    ));
    let zero = TrainConfig {
        batch_size: 0,
        ..train
    };
    assert!(matches!(
        Trainer::<AD>::resume(&dir, zero, &data, &device),
        Err(TrainError::ZeroBatch)
    ));
    std::fs::remove_dir_all(&dir).ok();
}

/// Largest absolute difference between two models' parameters (same config).
fn max_param_diff(a: &rqvae::ModelWeights, b: &rqvae::ModelWeights) -> f32 {
    fn flat(w: &rqvae::ModelWeights) -> Vec<f32> {
        let layers = w.encoder.iter().chain(w.decoder.iter().flatten());
        let mut v: Vec<f32> = layers
            .flat_map(|l| l.weight.iter().chain(&l.bias).copied())
            .collect();
        v.extend(w.codebooks.iter().flatten());
        v
    }
    common::max_abs_diff(&flat(a), &flat(b))
}
