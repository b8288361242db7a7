//! `rqvae-train export`.

use crate::output::write_atomic;
use anyhow::{bail, Result};
use clap::Args;
use rqvae::Precision;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ExportArgs {
    /// Run directory written by `rqvae-train train` (its final model, else its last checkpoint).
    #[arg(
        long,
        required_unless_present = "text_model",
        conflicts_with = "text_model"
    )]
    run: Option<PathBuf>,
    /// Instead of --run: a sentence-transformers directory, written as one text-model bundle for
    /// the browser (float16 weights, config and vocabulary in one .safetensors file).
    #[arg(long, conflicts_with_all = ["f16", "no_decoder"])]
    text_model: Option<PathBuf>,
    /// Output .safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Store weights as float16 (half the size; computation stays float32).
    #[arg(long)]
    f16: bool,
    /// Leave out the decoder: enough to assign IDs, not to reconstruct vectors.
    #[arg(long)]
    no_decoder: bool,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.text_model {
        let model = crate::embed::text_model(dir)?;
        let bytes = model.to_bundle();
        write_atomic(&args.out, &bytes)?;
        eprintln!(
            "wrote {} ({} bytes: a {}-d text model, float16)",
            args.out.display(),
            bytes.len(),
            model.dim()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let run = args
        .run
        .as_ref()
        .expect("clap requires --run or --text-model");
    let final_model = run.join("model.safetensors");
    let checkpoint = rqvae::train::checkpoint_dir(run).join("model.safetensors");
    let source = if final_model.is_file() {
        final_model
    } else if checkpoint.is_file() {
        eprintln!(
            "note: {} has no final model yet; exporting its last checkpoint",
            run.display()
        );
        checkpoint
    } else {
        bail!(
            "{} holds no model.safetensors and no checkpoint: is it a run directory of `rqvae-train train`?",
            run.display()
        );
    };
    let mut weights = crate::inputs::model(&source)?;
    if args.no_decoder {
        weights = weights.without_decoder();
    }
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    let bytes = weights.to_bytes(precision)?;
    write_atomic(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, {:?}, {})",
        args.out.display(),
        bytes.len(),
        precision,
        if weights.decoder.is_some() {
            "with decoder"
        } else {
            "encoder + codebooks"
        }
    );
    Ok(ExitCode::SUCCESS)
}
