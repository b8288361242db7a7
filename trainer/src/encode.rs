//! `rqvae-train encode`.

use crate::backend::BackendKind;
use crate::output::{ids_bytes, write_atomic};
use anyhow::{bail, Result};
use clap::Args;
use rqvae::canonical::encode_on_backend;
use rqvae::inference::{decode_ids, DEFAULT_BATCH};
use rqvae::HostModel;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EncodeArgs {
    /// Model weights (.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Embeddings to encode (.npy, float32 or float16, [items, dim]).
    #[arg(long)]
    embeddings: PathBuf,
    /// Output IDs: .npy (int32 [items, levels]), .csv or .jsonl (with the row index).
    #[arg(long)]
    out: PathBuf,
    /// Also write the decoder's reconstructions as float32 .npy [items, dim].
    #[arg(long)]
    recon: Option<PathBuf>,
    /// Rows per forward pass.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    batch_size: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendKind,
}

pub fn run(args: EncodeArgs) -> Result<ExitCode> {
    let weights = crate::inputs::model(&args.model)?;
    if args.recon.is_some() && weights.decoder.is_none() {
        bail!(
            "{}: has no decoder, so --recon cannot reconstruct; export the model with its decoder",
            args.model.display()
        );
    }
    let x = crate::inputs::embeddings_for(&args.embeddings, &weights)?;
    let levels = weights.config.levels;
    // Validate the output format before spending time on encoding.
    ids_bytes(&args.out, &[], levels)?;
    let host = HostModel::new(&weights)?;
    let started = std::time::Instant::now();
    let (checked, recon) = crate::with_backend!(args.backend, |B, device| {
        let model = weights.to_model::<B>(&device);
        let checked = encode_on_backend(&model, &host, &x, args.batch_size, &device);
        let recon = args
            .recon
            .as_ref()
            .and_then(|_| decode_ids(&model, &checked.ids, levels, args.batch_size, &device));
        (checked, recon)
    });
    let ids = checked.ids;
    let seconds = started.elapsed().as_secs_f64();
    write_atomic(&args.out, &ids_bytes(&args.out, &ids, levels)?)?;
    if let (Some(path), Some(recon)) = (&args.recon, recon) {
        write_atomic(path, &rqvae::npy::to_npy_bytes(&recon, x.rows(), x.dim()))?;
    }
    eprintln!(
        "encoded {} items in {:.3} s ({:.0} items/s) → {}; {} near-tie rows re-decided canonically",
        x.rows(),
        seconds,
        x.rows() as f64 / seconds,
        args.out.display(),
        checked.redecided.len()
    );
    Ok(ExitCode::SUCCESS)
}
