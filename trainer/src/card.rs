//! `rqvae-train card`: a weights file's model card (`rqvae::model_card`), the JSON that says
//! which model made a set of IDs, its sizes, and with `--embeddings` how good it is. `tokens
//! --model` writes the same card beside a table's exports.

use crate::backend::BackendKind;
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use clap::Args;
use rqvae::model_card::ModelCard;
use rqvae::{ModelWeights, RqVaeConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct CardArgs {
    /// Model weights (.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Also measure the model's quality metrics on these embeddings (as `eval --json` does, with
    /// its defaults); needs the model's decoder.
    #[arg(long)]
    embeddings: Option<PathBuf>,
    /// With Parquet --embeddings: the column holding the vectors.
    #[arg(long, requires = "embeddings")]
    column: Option<String>,
    /// The run directory of `rqvae-train train` that trained the model: its recipe (train.json)
    /// and, where present, init_from.json and sample.json go into the card.
    #[arg(long)]
    run: Option<PathBuf>,
    /// The card to write (JSON).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: CardArgs) -> Result<ExitCode> {
    let (card, weights) = read_card(&args.model)?;
    let card = complete(
        card,
        &weights,
        &args.model,
        args.embeddings.as_deref(),
        args.column.as_deref(),
        args.run.as_deref(),
    )?;
    write_atomic(&args.out, card.to_json().as_bytes())?;
    eprintln!("wrote {} ({})", args.out.display(), card.model);
    Ok(ExitCode::SUCCESS)
}

/// The card of the weights file at `path`, and its weights.
pub fn read_card(path: &Path) -> Result<(ModelCard, ModelWeights)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
    ModelCard::from_bytes(&bytes)
        .with_context(|| format!("{}: not usable rqvae weights", path.display()))
}

/// `card` with the metrics on `embeddings` and the record of `run`, each where given. Everything
/// is read and checked here, before anything is written.
pub fn complete(
    mut card: ModelCard,
    weights: &ModelWeights,
    model: &Path,
    embeddings: Option<&Path>,
    column: Option<&str>,
    run: Option<&Path>,
) -> Result<ModelCard> {
    // The run first: it is quick to read, the metrics are not.
    if let Some(dir) = run {
        card.run = Some(run_record(dir, &weights.config)?);
    }
    if let Some(path) = embeddings {
        if weights.decoder.is_none() {
            bail!(
                "{} has no decoder, and the quality metrics of --embeddings compare the inputs \
                 with their reconstructions: give the model with its decoder, or leave out \
                 --embeddings",
                model.display()
            );
        }
        let x = crate::inputs::embeddings_for(path, column, weights)?;
        eprintln!(
            "measuring the metrics on {} ({} rows)…",
            path.display(),
            x.rows()
        );
        let options = crate::eval::options(5000, 0);
        card.metrics = Some(crate::eval::metrics(
            weights,
            &x,
            options,
            BackendKind::Cpu,
        )?);
    }
    Ok(card)
}

/// What a run directory records of how the model was trained: the recipe (`train.json`), and
/// the starting model (`init_from.json`) and sample (`sample.json`) of runs that had them.
fn run_record(dir: &Path, config: &RqVaeConfig) -> Result<Value> {
    let read = |name: &str| -> Result<Option<Value>> {
        let path = dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        Ok(Some(value))
    };
    let Some(recipe) = read("train.json")? else {
        bail!(
            "{} has no train.json: --run takes the run directory of `rqvae-train train` that \
             trained the model",
            dir.display()
        );
    };
    // A run's final model, its export (f16, without decoder) and its checkpoints all keep its
    // sizes; a run of other sizes did not train this model.
    if let Some(value) = read("config.json")? {
        let trained: RqVaeConfig = serde_json::from_value(value).with_context(|| {
            format!("{}: not a model config", dir.join("config.json").display())
        })?;
        if &trained != config {
            bail!(
                "{} trained a model of other sizes ({}) than the one given ({}): --run takes \
                 the run directory that trained it",
                dir.display(),
                trained.to_json(),
                config.to_json()
            );
        }
    }
    Ok(serde_json::json!({
        "recipe": recipe,
        "init_from": read("init_from.json")?,
        "sample": read("sample.json")?,
    }))
}
