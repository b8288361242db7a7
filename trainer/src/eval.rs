//! `rqvae-train eval`.

use crate::backend::BackendKind;
use crate::output::write_atomic;
use anyhow::Result;
use clap::Args;
use rqvae::EvalOptions;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    /// Model weights (.safetensors from `train` or `export`, with its decoder).
    #[arg(long)]
    model: PathBuf,
    /// Embeddings to evaluate on (.npy, float32 or float16, [items, dim]).
    #[arg(long)]
    embeddings: PathBuf,
    /// Also write the metrics as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Query items sampled for NN overlap@5 and prefix-1 NN; 0 uses every item.
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    /// Seed of the query and random-pair samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendKind,
}

pub fn options(queries: usize, seed: u64) -> EvalOptions {
    EvalOptions {
        queries: (queries > 0).then_some(queries),
        seed,
        ..EvalOptions::default()
    }
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let weights = crate::inputs::model(&args.model)?;
    let x = crate::inputs::embeddings_for(&args.embeddings, &weights)?;
    let options = options(args.queries, args.seed);
    let metrics = crate::with_backend!(args.backend, |B, device| {
        let model = weights.to_model::<B>(&device);
        rqvae::inference::evaluate_model(&model, &weights.config, &x, options, &device)?.0
    });
    print!("{}", metrics.table());
    if let Some(path) = &args.json {
        write_atomic(path, serde_json::to_string_pretty(&metrics)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
