//! `rqvae-train eval`.

use crate::backend::BackendKind;
use crate::output::write_atomic;
use anyhow::Result;
use clap::Args;
use rqvae::ids::canonical::encode_on_backend;
use rqvae::ids::quality::{churn, table_quality};
use rqvae::inference::DEFAULT_BATCH;
use rqvae::{Embeddings, EvalOptions, Metrics, ModelWeights};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    /// Model weights (.safetensors from `train` or `export`, with its decoder).
    #[arg(long)]
    model: PathBuf,
    /// Embeddings to evaluate on: .npy (float32 or float16, [items, dim]) or Parquet.
    #[arg(long)]
    embeddings: PathBuf,
    /// With Parquet --embeddings (a .parquet file or a directory of shards): the column holding
    /// the vectors. Default: `embedding`, else the only list-of-float column.
    #[arg(long)]
    column: Option<String>,
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
    /// Also report on this ID table (from `assign`): uniqueness, collisions, per-level balance.
    #[arg(long)]
    table: Option<PathBuf>,
    /// With --table: the churn from this earlier table (share of common ids whose ID changed).
    #[arg(long, requires = "table")]
    previous: Option<PathBuf>,
}

pub fn options(queries: usize, seed: u64) -> EvalOptions {
    EvalOptions {
        queries: (queries > 0).then_some(queries),
        seed,
        ..EvalOptions::default()
    }
}

/// The quality metrics of `weights` on `x` (checked to fit), with the IDs of the cross-backend
/// contract: what `eval` prints, and a model card's `metrics`.
pub fn metrics(
    weights: &ModelWeights,
    x: &Embeddings,
    options: EvalOptions,
    backend: BackendKind,
) -> Result<Metrics> {
    let host = rqvae::HostModel::new(weights)?;
    Ok(crate::with_backend!(backend, |B, device| {
        let model = weights.to_model::<B>(&device);
        let ids = encode_on_backend(&model, &host, x, DEFAULT_BATCH, &device).ids;
        rqvae::inference::evaluate_ids(&model, &weights.config, x, &ids, options, &device)?
    }))
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let weights = crate::inputs::model(&args.model)?;
    let x = crate::inputs::embeddings_for(&args.embeddings, args.column.as_deref(), &weights)?;
    let metrics = metrics(&weights, &x, options(args.queries, args.seed), args.backend)?;
    print!("{}", metrics.table());
    let mut json = serde_json::to_value(&metrics)?;
    if let Some(path) = &args.table {
        let table = crate::assign::read_table(path)?;
        let quality = table_quality(&table);
        println!("\nID table {}", path.display());
        print!("{}", quality.table());
        json["table"] = serde_json::to_value(&quality)?;
        if let Some(previous) = &args.previous {
            let churn = churn(&crate::assign::read_table(previous)?, &table);
            println!(
                "churn from {}: {} of {} common ids changed ID ({:.2} %); {} removed, {} added",
                previous.display(),
                churn.changed,
                churn.common,
                100.0 * churn.churn,
                churn.only_previous,
                churn.only_current
            );
            json["churn"] = serde_json::to_value(&churn)?;
        }
    }
    if let Some(path) = &args.json {
        write_atomic(path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
