//! `rqvae-train train`.

use crate::backend::BackendKind;
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use burn::backend::Autodiff;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rqvae::input_transform::InputTransformChoice;
use rqvae::train::{
    checkpoint_dir, has_checkpoint, recover_checkpoint, saved_recipe, BurnEngine, CpuDevice,
    CpuEngine, Engine, EpochReport, TrainConfig, Trainer,
};
use rqvae::{Embeddings, ModelWeights, Precision, RqVaeConfig};
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// Training embeddings: .npy (float32 or float16, [items, dim]) or Parquet.
    #[arg(long)]
    embeddings: PathBuf,
    /// With Parquet --embeddings (a .parquet file or a directory of shards): the column holding
    /// the vectors. Default: `embedding`, else the only list-of-float column.
    #[arg(long)]
    column: Option<String>,
    /// Run directory: receives config.json, train.json, log.jsonl, checkpoint/, model.safetensors
    /// and metrics.json.
    #[arg(long)]
    out: PathBuf,
    /// Model sizes as JSON (RqVaeConfig: hidden_dims, latent_dim, levels, codebook_size;
    /// input_dim defaults to the data's). Default: the reference 512-256-128 → 32, 3 × 256.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training recipe as JSON (TrainConfig fields); the flags below override it.
    #[arg(long, conflicts_with = "recipe")]
    train_config: Option<PathBuf>,
    /// A named recipe to start from (instead of --train-config); docs/training.md says why each
    /// is what it is and what it measured.
    #[arg(long, value_enum, default_value = "reference")]
    recipe: RecipeName,
    /// Passes over the data [default: 1000].
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows per optimizer step [default: 4096].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate [default: 3e-4].
    #[arg(long)]
    lr: Option<f64>,
    /// Seed for initialisation, k-means and shuffling [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// A new model's input transform: `auto` centres the inputs on their mean when they are
    /// anisotropic (random pairs' mean cosine above 0.5, as with E5, BGE or GTE), `center` and
    /// `none` decide it regardless [default: auto]. Fine-tuning and resuming keep the model's.
    #[arg(long, value_enum)]
    input_transform: Option<InputTransformArg>,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendKind,
    /// How gradients are computed: `auto` uses the hand-written CPU engine on `--backend cpu`
    /// and burn's autodiff on CUDA; `burn` uses burn's autodiff on either (slower on the CPU,
    /// kept for comparison). Both follow the same recipe and write the same checkpoints.
    #[arg(long, value_enum, default_value = "auto")]
    engine: EngineKind,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Start from this trained model (.safetensors with its decoder: a run's model.safetensors
    /// or an export) instead of a fresh one: fine-tuning. Its sizes and codebooks are kept (no
    /// k-means); the recipe's schedule and a fresh optimizer start from the first step.
    #[arg(long, conflicts_with_all = ["resume", "config"])]
    init_from: Option<PathBuf>,
    /// Epochs between checkpoints (a killed run loses at most this many).
    #[arg(long, default_value_t = 10)]
    checkpoint_every: usize,
    /// Query items for the final metrics' neighbour terms; 0 uses every item.
    #[arg(long, default_value_t = 5000)]
    eval_queries: usize,
    /// Train on a uniform random sample of this many rows, drawn with --seed while the file is
    /// read in chunks: memory holds the sample and a chunk, not the file. The rows keep their
    /// file order; at least as many as the file has trains on every row. The run directory's
    /// sample.json records it, and the final metrics are the sample's.
    #[arg(long, value_name = "ROWS", value_parser = parse_sample)]
    sample: Option<NonZeroUsize>,
    /// With --sample: also write the sampled rows to this .npy (float32), e.g. to evaluate the
    /// model on them later or to train on them again without the big file.
    #[arg(long, value_name = "FILE.npy", requires = "sample")]
    sample_out: Option<PathBuf>,
}

fn parse_sample(text: &str) -> std::result::Result<NonZeroUsize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a sample needs at least 1 row".into()),
        Ok(n) => Ok(NonZeroUsize::new(n).expect("not 0")),
        Err(_) => Err("not a number of rows (a whole number, at least 1)".into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecipeName {
    /// The reference model card's recipe (batch 4096, LR 3e-4, 1,000 epochs).
    Reference,
    /// The shipped default model's first stage (2,000 epochs unless --epochs says otherwise).
    SemanticIds,
    /// Its second stage, with --init-from: the prefix-collision penalty (400 epochs by default).
    CollisionFineTune,
    /// The second stage with a strong code-usage term, with --init-from: evens out the codes of a
    /// model first trained without the term (400 epochs by default).
    BalancedFineTune,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputTransformArg {
    Auto,
    None,
    Center,
}

impl From<InputTransformArg> for InputTransformChoice {
    fn from(arg: InputTransformArg) -> Self {
        match arg {
            InputTransformArg::Auto => Self::Auto,
            InputTransformArg::None => Self::None,
            InputTransformArg::Center => Self::Center,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    Auto,
    Burn,
}

fn model_config(args: &TrainArgs, x: &Embeddings) -> Result<RqVaeConfig> {
    let Some(path) = &args.config else {
        return Ok(RqVaeConfig::with_input_dim(x.dim()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    if let Some(map) = value.as_object_mut() {
        map.entry("input_dim").or_insert(x.dim().into());
    }
    let config = RqVaeConfig::from_json(&value.to_string())
        .with_context(|| format!("{}: not a usable model config", path.display()))?;
    if config.input_dim != x.dim() {
        bail!(
            "{} sets input_dim {} but {} has dimension {}",
            path.display(),
            config.input_dim,
            args.embeddings.display(),
            x.dim()
        );
    }
    Ok(config)
}

/// Refuses a fine-tuning recipe (`--recipe`) without the model it starts from.
fn require_init_from(args: &TrainArgs) -> Result<()> {
    if args.init_from.is_none() {
        let name = args.recipe.to_possible_value().expect("a named recipe");
        bail!(
            "--recipe {} fine-tunes a trained model: give it with --init-from MODEL.safetensors",
            name.get_name()
        );
    }
    Ok(())
}

/// The recipe: a fresh run's comes from `--train-config` (or the defaults); a resumed run's from
/// its own checkpoint. Flags override either; on resume anything but `--epochs` that differs
/// from the run's recipe is refused by [`Trainer::resume`].
fn train_config(args: &TrainArgs) -> Result<TrainConfig> {
    let mut train = match &args.train_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a usable training config", path.display()))?
        }
        None if args.resume => saved_recipe(&checkpoint_dir(&args.out))?,
        None => match args.recipe {
            RecipeName::Reference => TrainConfig::reference(),
            RecipeName::SemanticIds => TrainConfig::semantic_ids(args.epochs.unwrap_or(2000)),
            RecipeName::CollisionFineTune => {
                require_init_from(args)?;
                TrainConfig::collision_fine_tune(args.epochs.unwrap_or(400))
            }
            RecipeName::BalancedFineTune => {
                require_init_from(args)?;
                TrainConfig::balanced_fine_tune(args.epochs.unwrap_or(400))
            }
        },
    };
    if let Some(v) = args.epochs {
        train.epochs = v;
    }
    if let Some(v) = args.batch_size {
        train.batch_size = v;
    }
    if let Some(v) = args.lr {
        train.lr = v;
    }
    if let Some(v) = args.seed {
        train.seed = v;
    }
    if let Some(v) = args.input_transform {
        train.input_transform = v.into();
    }
    Ok(train)
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    // The run directory and recipe come first: with --sample the recipe's seed draws the rows.
    prepare_run_dir(&args)?;
    let train = train_config(&args)?;
    let x = training_rows(&args, train.seed)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
    }
    let trained = match (args.backend, args.engine) {
        (BackendKind::Cpu, EngineKind::Auto) => {
            train_on::<CpuEngine>(&args, train, &x, &CpuDevice, &stop)?
        }
        _ => crate::with_backend!(args.backend, |B, device| {
            train_on::<BurnEngine<Autodiff<B>>>(&args, train.clone(), &x, &device, &stop)?
        }),
    };
    let Some((weights, config)) = trained else {
        return Ok(ExitCode::from(130));
    };
    eprintln!("evaluating…");
    let metrics = crate::with_backend!(args.backend, |B, device| {
        rqvae::inference::evaluate_model(
            &weights.to_model::<B>(&device),
            &config,
            &x,
            crate::eval::options(args.eval_queries, 0),
            &device,
        )?
        .0
    });
    write_atomic(
        &args.out.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)?.as_bytes(),
    )?;
    print!("{}", metrics.table());
    eprintln!("wrote {}", args.out.join("model.safetensors").display());
    Ok(ExitCode::SUCCESS)
}

/// What `sample.json` records of a run trained on a sample, so that it can be drawn again.
#[derive(Debug, Clone, PartialEq)]
struct SampleRecord {
    /// `--sample`: rows asked for.
    requested: usize,
    /// Rows drawn (fewer than asked when the file has fewer).
    rows: usize,
    /// Rows in the file.
    of_rows: usize,
    seed: u64,
}

impl SampleRecord {
    fn to_json(&self, embeddings: &std::path::Path) -> serde_json::Value {
        serde_json::json!({
            "embeddings": embeddings,
            "requested": self.requested,
            "rows": self.rows,
            "of_rows": self.of_rows,
            "seed": self.seed,
        })
    }

    fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        let field = |key: &str| {
            value[key]
                .as_u64()
                .with_context(|| format!("{}: no whole number {key:?}", path.display()))
        };
        Ok(Self {
            requested: field("requested")? as usize,
            rows: field("rows")? as usize,
            of_rows: field("of_rows")? as usize,
            seed: field("seed")?,
        })
    }
}

/// The rows to train on: the whole file, or with `--sample` a sample drawn with `seed` while the
/// file streams. A sampled run records the draw in `sample.json`; resuming it must draw the same
/// one.
fn training_rows(args: &TrainArgs, seed: u64) -> Result<Embeddings> {
    let record_path = args.out.join("sample.json");
    let recorded = if args.resume && record_path.is_file() {
        Some(SampleRecord::read(&record_path)?)
    } else {
        None
    };
    let n = match (&recorded, args.sample) {
        (None, None) => return crate::inputs::embeddings(&args.embeddings, args.column.as_deref()),
        (Some(r), None) => bail!(
            "{} was trained on a sample of {} rows (sample.json): resume it with --sample {}",
            args.out.display(),
            r.requested,
            r.requested
        ),
        (Some(r), Some(n)) if r.requested != n.get() => bail!(
            "{} was trained on a sample of {} rows (sample.json), not {n}: resume it with \
             --sample {}",
            args.out.display(),
            r.requested,
            r.requested
        ),
        (None, Some(_)) if args.resume => bail!(
            "{} was trained on every row of its embeddings: resume it without --sample",
            args.out.display()
        ),
        (_, Some(n)) => n,
    };
    let sample = crate::inputs::sample(&args.embeddings, args.column.as_deref(), n, seed)?;
    let record = SampleRecord {
        requested: n.get(),
        rows: sample.rows.rows(),
        of_rows: sample.source_rows,
        seed,
    };
    if let Some(r) = &recorded {
        if (r.rows, r.of_rows, r.seed) != (record.rows, record.of_rows, record.seed) {
            bail!(
                "{} was trained on {} of {} rows drawn with seed {}, but this draw is {} of {} \
                 with seed {}: not the same sample",
                args.out.display(),
                r.rows,
                r.of_rows,
                r.seed,
                record.rows,
                record.of_rows,
                record.seed
            );
        }
    }
    eprintln!(
        "sampled {} of {} rows of {} (seed {seed})",
        record.rows,
        record.of_rows,
        args.embeddings.display()
    );
    write_atomic(
        &record_path,
        serde_json::to_string_pretty(&record.to_json(&args.embeddings))?.as_bytes(),
    )?;
    if let Some(path) = &args.sample_out {
        crate::output::write_npy_f32(path, &sample.rows)?;
        eprintln!("wrote the sample to {}", path.display());
    }
    Ok(sample.rows)
}

fn prepare_run_dir(args: &TrainArgs) -> Result<()> {
    let ckpt = checkpoint_dir(&args.out);
    if args.resume {
        recover_checkpoint(&ckpt)
            .with_context(|| format!("cannot restore the checkpoint in {}", ckpt.display()))?;
        if !ckpt.join("state.json").is_file() {
            bail!(
                "{} has no checkpoint to resume from (expected {}); a run killed before its \
                 first checkpoint starts again without --resume",
                args.out.display(),
                ckpt.join("state.json").display()
            );
        }
    } else if has_checkpoint(&args.out) || args.out.join("model.safetensors").exists() {
        bail!(
            "{} already holds a run; pass --resume to continue it, or choose another --out",
            args.out.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create run directory {}", args.out.display()))?;
    // Probe writability now rather than after the first epochs.
    write_atomic(&args.out.join(".write-test"), b"")?;
    std::fs::remove_file(args.out.join(".write-test")).ok();
    Ok(())
}

/// Trains with engine `E`; returns the final weights, or `None` when Ctrl-C stopped the run
/// (its checkpoint is saved).
fn train_on<E: Engine>(
    args: &TrainArgs,
    train: TrainConfig,
    x: &Embeddings,
    device: &E::Device,
    stop: &AtomicBool,
) -> Result<Option<(ModelWeights, RqVaeConfig)>> {
    let mut trainer = if args.resume {
        let t = Trainer::<E>::resume(&checkpoint_dir(&args.out), train.clone(), x, device)?;
        eprintln!(
            "resuming {} at epoch {}/{}",
            args.out.display(),
            t.epochs_done,
            train.epochs
        );
        t
    } else if let Some(path) = &args.init_from {
        let weights = crate::inputs::model(path).context("--init-from")?;
        if weights.config.input_dim != x.dim() {
            bail!(
                "--init-from {} is a model of {}-d embeddings but {} has dimension {}",
                path.display(),
                weights.config.input_dim,
                args.embeddings.display(),
                x.dim()
            );
        }
        let fingerprint = rqvae::ids::fingerprint::model_fingerprint(&weights);
        let t = Trainer::<E>::fine_tune(&weights, train.clone(), x, device)
            .with_context(|| format!("--init-from {}", path.display()))?;
        eprintln!(
            "fine-tuning {} ({fingerprint}) on {} items × {} dims",
            path.display(),
            x.rows(),
            x.dim()
        );
        if let Some(input) = &weights.input {
            eprintln!(
                "input: centred on the model's mean and scaled by {:.3}, as the model was trained",
                input.scale
            );
        }
        let origin = serde_json::json!({ "model": path, "fingerprint": fingerprint });
        write_atomic(
            &args.out.join("init_from.json"),
            serde_json::to_string_pretty(&origin)?.as_bytes(),
        )?;
        t
    } else {
        let config = model_config(args, x)?;
        eprintln!(
            "training on {} items × {} dims; k-means init of {} codebooks…",
            x.rows(),
            x.dim(),
            config.levels
        );
        let t = Trainer::<E>::new(config, train.clone(), x, device)?;
        report_input_transform(&t);
        t
    };
    write_atomic(
        &args.out.join("config.json"),
        serde_json::to_string_pretty(&trainer.config)?.as_bytes(),
    )?;
    write_atomic(
        &args.out.join("train.json"),
        serde_json::to_string_pretty(&trainer.train)?.as_bytes(),
    )?;

    let interactive = std::io::stderr().is_terminal();
    let bar = ProgressBar::new(train.epochs as u64).with_position(trainer.epochs_done as u64);
    if interactive {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} epoch {pos}/{len} [{elapsed} < {eta}] {msg}")
                .expect("valid template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut log = crate::run_log::open(&args.out.join("log.jsonl"), trainer.epochs_done)?;
    let ckpt = checkpoint_dir(&args.out);
    let every = args.checkpoint_every.max(1);
    while trainer.epochs_done < train.epochs {
        let report = trainer.run_epoch();
        writeln!(log, "{}", serde_json::to_string(&report)?)?;
        bar.set_position(report.epoch as u64);
        bar.set_message(summary(&report));
        if !interactive && (report.epoch % every == 0 || report.epoch == 1) {
            eprintln!(
                "epoch {}/{} {}",
                report.epoch,
                train.epochs,
                summary(&report)
            );
        }
        let interrupted = stop.load(Ordering::SeqCst);
        if report.epoch % every == 0 || interrupted {
            trainer.save_checkpoint(&ckpt)?;
        }
        if interrupted {
            bar.abandon();
            eprintln!(
                "interrupted: checkpoint saved at epoch {}; continue with --resume",
                report.epoch
            );
            return Ok(None);
        }
    }
    bar.finish();
    trainer.save_checkpoint(&ckpt)?;
    let weights = trainer.weights();
    write_atomic(
        &args.out.join("model.safetensors"),
        &weights.to_bytes(Precision::F32)?,
    )?;
    Ok(Some((weights, trainer.config)))
}

/// Says which input transform a new model got and why.
fn report_input_transform<E: Engine>(t: &Trainer<E>) {
    let cosine = t.anisotropy.map_or(0.0, |a| a.mean_pair_cosine);
    let limit = rqvae::anisotropy::ANISOTROPIC_COSINE;
    match (&t.input, t.train.input_transform) {
        (Some(input), InputTransformChoice::Auto) => eprintln!(
            "input: random pairs' mean cosine {cosine:.2} > {limit}: inputs centred on their mean \
             and scaled by {:.3} (--input-transform none keeps them as they are)",
            input.scale
        ),
        (Some(input), _) => eprintln!(
            "input: centred on their mean and scaled by {:.3} (--input-transform center)",
            input.scale
        ),
        (None, InputTransformChoice::Auto) => eprintln!(
            "input: random pairs' mean cosine {cosine:.2} ≤ {limit}: inputs used as they are"
        ),
        (None, _) => eprintln!("input: used as they are (--input-transform none)"),
    }
}

fn summary(r: &EpochReport) -> String {
    let ppl: Vec<String> = r.perplexity.iter().map(|p| format!("{p:.0}")).collect();
    let dead: usize = r.dead_codes.iter().sum();
    format!(
        "recon {:.4} cb {:.4} commit {:.4} ppl {} dead {} lr {:.1e} {:.2}s/epoch",
        r.recon_loss,
        r.codebook_loss,
        r.commitment_loss,
        ppl.join("/"),
        dead,
        r.lr,
        r.seconds
    )
}
