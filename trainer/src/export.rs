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
    #[arg(long)]
    run: PathBuf,
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
    let final_model = args.run.join("model.safetensors");
    let checkpoint = rqvae::train::checkpoint_dir(&args.run).join("model.safetensors");
    let source = if final_model.is_file() {
        final_model
    } else if checkpoint.is_file() {
        eprintln!(
            "note: {} has no final model yet; exporting its last checkpoint",
            args.run.display()
        );
        checkpoint
    } else {
        bail!(
            "{} holds no model.safetensors and no checkpoint: is it a run directory of `rqvae-train train`?",
            args.run.display()
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
