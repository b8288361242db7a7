//! `rqvae-train encode`.

use crate::backend::BackendKind;
use crate::inputs::CHUNK_ROWS;
use crate::output::{ids_bytes, write_atomic, AtomicFile};
use anyhow::{bail, Result};
use clap::Args;
use rqvae::ids::canonical::encode_on_backend;
use rqvae::inference::{decode_ids, DEFAULT_BATCH};
use rqvae::npy::{npy_header, push_npy_values};
use rqvae::HostModel;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EncodeArgs {
    /// Model weights (.safetensors).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    vectors: crate::embed::VectorsArgs,
    /// With --text-model: the items, JSON Lines or CSV with a header.
    #[arg(long, requires = "text_model")]
    items: Option<PathBuf>,
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
    let (embeddings, _text) = args.vectors.resolve(args.items.as_deref(), &args.out)?;
    let mut reader =
        crate::inputs::embedding_rows_for(&embeddings, args.vectors.column(), &weights)?;
    let (rows, dim) = (reader.rows(), reader.dim());
    let levels = weights.config.levels;
    // Validate the output format before spending time on encoding.
    ids_bytes(&args.out, &[], levels)?;
    let host = HostModel::new(&weights)?;
    let mut recon = match &args.recon {
        Some(path) => {
            let mut file = AtomicFile::create(path)?;
            file.write(&npy_header::<f32>(rows, dim))?;
            Some(file)
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let mut ids = Vec::with_capacity(rows * levels);
    let mut redecided = 0;
    crate::with_backend!(args.backend, |B, device| {
        let model = weights.to_model::<B>(&device);
        while let Some((_, chunk)) = reader.next_chunk(CHUNK_ROWS)? {
            let checked = encode_on_backend(&model, &host, &chunk, args.batch_size, &device);
            if let Some(file) = recon.as_mut() {
                let values = decode_ids(&model, &checked.ids, levels, args.batch_size, &device)
                    .expect("the decoder was checked above");
                let mut bytes = Vec::with_capacity(values.len() * 4);
                push_npy_values(&values, &mut bytes);
                file.write(&bytes)?;
            }
            redecided += checked.redecided.len();
            ids.extend(checked.ids);
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    write_atomic(&args.out, &ids_bytes(&args.out, &ids, levels)?)?;
    if let Some(file) = recon {
        file.finish()?;
    }
    eprintln!(
        "encoded {} items in {:.3} s ({:.0} items/s) → {}; {} near-tie rows re-decided canonically",
        rows,
        seconds,
        rows as f64 / seconds,
        args.out.display(),
        redecided
    );
    Ok(ExitCode::SUCCESS)
}
