//! `rqvae-train import`: a PyTorch checkpoint (`.pth`/`.pt`) → this project's weights file. The
//! checkpoint is read by the crate's own reader (`rqvae::import`), never run; nothing is
//! written unless the whole model maps and checks.

use crate::output::write_atomic;
use anyhow::{Context, Result};
use clap::Args;
use rqvae::import::{import_checkpoint, ImportOptions, KeyMap};
use rqvae::Precision;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ImportArgs {
    /// The PyTorch checkpoint: a state dict saved with torch.save, alone or inside a dict
    /// (`model_state_dict`, `state_dict`, `model`), e.g. the reference model's `best_model.pth`.
    #[arg(long)]
    pth: PathBuf,
    /// Output .safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// JSON naming the tensors when the checkpoint's names are not a known layout:
    /// {"encoder": ["enc.0", …], "decoder": […], "codebooks": ["q.0", …], "ignore": […]}.
    #[arg(long)]
    key_map: Option<PathBuf>,
    /// The checkpoint's top-level key holding the state dict.
    #[arg(long)]
    state_dict: Option<String>,
    /// Store weights as float16 (half the size; computation stays float32).
    #[arg(long)]
    f16: bool,
    /// Leave out the decoder: enough to assign IDs, not to reconstruct vectors.
    #[arg(long)]
    no_decoder: bool,
    /// A tensor the model does not use (training statistics, a loss's parameters): its name,
    /// or a module's prefix ending in '.'. Repeat for more.
    #[arg(long)]
    ignore: Vec<String>,
}

pub fn run(args: ImportArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.pth)
        .with_context(|| format!("cannot read checkpoint {}", args.pth.display()))?;
    let key_map = match &args.key_map {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read key map {}", path.display()))?;
            Some(KeyMap::from_json(&text, &path.display().to_string())?)
        }
        None => None,
    };
    let options = ImportOptions {
        key_map,
        state_dict: args.state_dict.clone(),
        no_decoder: args.no_decoder,
        ignore: args.ignore.clone(),
    };
    let file_name = args
        .pth
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let imported = import_checkpoint(&bytes, &file_name, &options)
        .with_context(|| format!("{}: cannot import", args.pth.display()))?;
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    let out = imported.to_bytes(precision)?;
    write_atomic(&args.out, &out)?;
    let c = &imported.weights.config;
    eprintln!(
        "imported {} ({} layout): {} → {} → {}, {} levels × {} codes, {}",
        args.pth.display(),
        imported.layout,
        c.input_dim,
        c.hidden_dims
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(" → "),
        c.latent_dim,
        c.levels,
        c.codebook_size,
        if imported.weights.decoder.is_some() {
            "with its decoder"
        } else {
            "no decoder"
        }
    );
    if imported.layout != "torch-ref" {
        // The reference layout is ReLU by definition; for the others only the user knows.
        eprintln!(
            "note: the MLP is run as Linear + ReLU layers (a state dict does not record its \
             activations): check a few rows' IDs against PyTorch's"
        );
    }
    println!(
        "wrote {} (fingerprint {})",
        args.out.display(),
        rqvae::ids::fingerprint::model_fingerprint(&imported.weights)
    );
    Ok(ExitCode::SUCCESS)
}
