//! The hand-written CPU training engine against burn's autodiff: the same gradients on the same
//! weights and batch (for every recipe option that changes the loss), the same training run, and
//! checkpoints that resume on the other engine. (`tests/training.rs` trains the reference model
//! on the sample with both.)

mod common;
use burn::backend::{Autodiff, NdArray};
use common::{max_abs_diff, sample, unique_temp_path};
use rqvae::train::{
    BurnEngine, CpuDevice, CpuEngine, DeadCodeSource, Engine, StepRecipe, TrainConfig, Trainer,
};
use rqvae::{Embeddings, ModelWeights, RqVaeConfig};

type Burn = BurnEngine<Autodiff<NdArray<f32>>>;

fn small_config() -> RqVaeConfig {
    RqVaeConfig {
        input_dim: 768,
        hidden_dims: vec![64, 32],
        latent_dim: 8,
        levels: 3,
        codebook_size: 16,
    }
}

fn recipe(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 300,
        ..Default::default()
    }
}

/// Every parameter, in a fixed order.
fn flat(w: &ModelWeights) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = w
        .encoder
        .iter()
        .flat_map(|l| [l.weight.clone(), l.bias.clone()])
        .collect();
    out.extend(w.codebooks.iter().cloned());
    if let Some(d) = &w.decoder {
        out.extend(d.iter().flat_map(|l| [l.weight.clone(), l.bias.clone()]));
    }
    out
}

/// The largest difference between two tensors of each pair, relative to the larger tensor's
/// largest magnitude, over all pairs.
fn relative_gap(a: &ModelWeights, b: &ModelWeights) -> f32 {
    let (a, b) = (flat(a), flat(b));
    assert_eq!(a.len(), b.len(), "different parameter counts");
    a.iter()
        .zip(&b)
        .map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "a parameter differs in size");
            let scale = x.iter().chain(y).fold(0f32, |m, v| m.max(v.abs()));
            // NaN-aware: a NaN anywhere makes the gap NaN, and `gap < tol` fails.
            let gap = max_abs_diff(x, y);
            if scale > 0.0 {
                gap / scale
            } else {
                gap
            }
        })
        .fold(0f32, |m, g| {
            if g.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(g)
            }
        })
}

/// Both engines on identical weights: the burn trainer resumes the fresh CPU trainer's
/// checkpoint (burn's CPU backend draws initial weights from one process-wide generator that
/// tests running side by side share, so seeding both alike is not enough here).
fn twin_trainers(train: &TrainConfig, data: &Embeddings) -> (Trainer<CpuEngine>, Trainer<Burn>) {
    let cpu = Trainer::<CpuEngine>::new(small_config(), train.clone(), data, &CpuDevice)
        .expect("cpu trainer");
    let dir = unique_temp_path("twin");
    cpu.save_checkpoint(&dir).expect("checkpoint");
    let burn = Trainer::<Burn>::resume(&dir, train.clone(), data, &Default::default());
    let _ = std::fs::remove_dir_all(&dir);
    let burn = burn.expect("burn resumes the CPU engine's checkpoint");
    assert!(
        cpu.weights() == burn.weights(),
        "the engines start from different weights"
    );
    (cpu, burn)
}

#[test]
fn gradients_equal_burn_autodiff_for_every_loss_option() {
    let data = sample();
    let rows: Vec<usize> = (0..data.rows()).step_by(3).collect();
    let variants: Vec<(&str, TrainConfig)> = vec![
        ("reference", recipe(1)),
        (
            "sinkhorn",
            TrainConfig {
                sinkhorn_epsilon: vec![0.05, 0.05, 0.0],
                ..recipe(1)
            },
        ),
        (
            "weights",
            TrainConfig {
                codebook_weight: 0.7,
                commitment_weight: 1.3,
                ..recipe(1)
            },
        ),
    ];
    for (name, train) in variants {
        let (cpu, burn) = twin_trainers(&train, &data);
        let step = StepRecipe::from_train(&train);
        let (ours, theirs) = (
            cpu.engine.gradients(&rows, &step),
            burn.engine.gradients(&rows, &step),
        );
        let gap = relative_gap(&ours, &theirs);
        eprintln!("{name}: largest relative gradient gap {gap:.2e}");
        assert!(
            gap < 1e-3,
            "{name}: gradients differ from burn's by {gap:.2e}"
        );
        assert!(
            flat(&ours).iter().all(|t| t.iter().any(|&v| v != 0.0)),
            "{name}: a parameter got no gradient"
        );
    }
}

#[test]
fn training_follows_burn_epoch_by_epoch() {
    let data = sample();
    let variants = vec![
        ("reference", recipe(3)),
        (
            "high-error reseeding",
            TrainConfig {
                dead_code_source: DeadCodeSource::HighError,
                ..recipe(3)
            },
        ),
        (
            "autoencoder warm-up",
            TrainConfig {
                ae_warmup_epochs: 1,
                ..recipe(3)
            },
        ),
    ];
    for (name, train) in variants {
        let (mut cpu, mut burn) = twin_trainers(&train, &data);
        let mut replaced = 0;
        for _ in 0..train.epochs {
            let (a, b) = (cpu.run_epoch(), burn.run_epoch());
            eprintln!(
                "{name} epoch {}: recon {:.5} vs {:.5}, codebook {:.5} vs {:.5}, dead {:?} vs {:?}",
                a.epoch,
                a.recon_loss,
                b.recon_loss,
                a.codebook_loss,
                b.codebook_loss,
                a.dead_codes,
                b.dead_codes
            );
            replaced += b.dead_codes.iter().sum::<usize>();
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-3 * y.abs().max(1e-3);
            assert!(
                close(a.recon_loss, b.recon_loss) && close(a.codebook_loss, b.codebook_loss),
                "{name} epoch {}: losses {:?} vs {:?}",
                a.epoch,
                (a.recon_loss, a.codebook_loss),
                (b.recon_loss, b.codebook_loss)
            );
        }
        let gap = relative_gap(&cpu.weights(), &burn.weights());
        assert!(gap < 1e-2, "{name}: weights drifted apart by {gap:.2e}");
        // Dead codes are replaced after the epochs above, so the epochs after them compared
        // the replacement too.
        assert!(
            replaced > 0 || train.ae_warmup_epochs > 0,
            "{name}: no code died, so replacement went unchecked"
        );
    }
}

/// A checkpoint written by one engine resumes on the other with its optimizer state: the next
/// epoch matches the run that wrote it. A lost AdamW state would restart the moments, and the
/// first step after it moves every weight by about the learning rate.
#[test]
fn checkpoints_resume_on_the_other_engine() {
    let data = sample();
    let train = recipe(4);
    let (mut cpu, mut burn) = twin_trainers(&train, &data);
    cpu.run_epoch();
    burn.run_epoch();

    let (from_cpu, from_burn) = (unique_temp_path("ckpt-cpu"), unique_temp_path("ckpt-burn"));
    cpu.save_checkpoint(&from_cpu).unwrap();
    burn.save_checkpoint(&from_burn).unwrap();
    let burn_resumed =
        Trainer::<Burn>::resume(&from_cpu, train.clone(), &data, &Default::default());
    let cpu_resumed = Trainer::<CpuEngine>::resume(&from_burn, train.clone(), &data, &CpuDevice);
    // The same checkpoint with its optimizer state replaced by a fresh trainer's (empty) one.
    let fresh = unique_temp_path("ckpt-fresh");
    Trainer::<CpuEngine>::new(small_config(), train.clone(), &data, &CpuDevice)
        .unwrap()
        .save_checkpoint(&fresh)
        .unwrap();
    std::fs::copy(fresh.join("optimizer.bin"), from_cpu.join("optimizer.bin")).unwrap();
    let lost = Trainer::<CpuEngine>::resume(&from_cpu, train.clone(), &data, &CpuDevice);
    for dir in [&from_cpu, &from_burn, &fresh] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (mut burn_resumed, mut cpu_resumed, mut lost) =
        (burn_resumed.unwrap(), cpu_resumed.unwrap(), lost.unwrap());
    assert!(
        burn_resumed.weights() == cpu.weights(),
        "burn resumed other weights"
    );
    assert!(
        cpu_resumed.weights() == burn.weights(),
        "the CPU engine resumed other weights"
    );
    assert_eq!((burn_resumed.epochs_done, cpu_resumed.epochs_done), (1, 1));

    for t in [&mut cpu_resumed, &mut lost] {
        t.run_epoch();
    }
    cpu.run_epoch();
    burn.run_epoch();
    burn_resumed.run_epoch();
    let (a, b, c) = (
        relative_gap(&burn_resumed.weights(), &cpu.weights()),
        relative_gap(&cpu_resumed.weights(), &burn.weights()),
        relative_gap(&lost.weights(), &cpu.weights()),
    );
    eprintln!(
        "after one more epoch: cpu→burn gap {a:.2e}, burn→cpu gap {b:.2e}, without optimizer \
         state {c:.2e}"
    );
    assert!(
        a < 1e-3,
        "burn resuming the CPU engine's run drifted by {a:.2e}"
    );
    assert!(
        b < 1e-3,
        "the CPU engine resuming burn's run drifted by {b:.2e}"
    );
    assert!(
        c > 10.0 * a.max(b),
        "losing the optimizer state changed little ({c:.2e}), so the check cannot tell"
    );
}
