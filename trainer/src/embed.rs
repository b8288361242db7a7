//! `rqvae-train embed`: catalog titles → sentence vectors (.npy), with a sentence-transformers
//! model or a bundle; and the same step for `assign` and `encode --text-model`.

use crate::backend::BackendKind;
use crate::output::AtomicFile;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rqvae::ids::table::ItemId;
use rqvae::npy::{npy_header, push_npy_values};
use rqvae::text::items::{ItemsFormat, ItemsReader};
use rqvae::text::SentenceEncoder;
use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct EmbedArgs {
    /// The text model: a sentence-transformers directory (config.json, model.safetensors,
    /// tokenizer.json, modules.json, 1_Pooling/) or a bundle from `export --text-model`.
    #[arg(long)]
    text_model: PathBuf,
    /// The items: JSON Lines (.jsonl) or CSV with a header (.csv), one item per line.
    #[arg(long)]
    items: PathBuf,
    /// The field (JSON key or CSV column) that holds each item's text.
    #[arg(long, default_value = "title")]
    field: String,
    /// Where the text model runs: the CPU (all cores; RAYON_NUM_THREADS sets how many) or CUDA.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendKind,
    /// The vectors: float32 .npy [items, dim], row i for line i.
    #[arg(long)]
    out: PathBuf,
}

/// How titles are read and embedded.
#[derive(Clone)]
pub struct TextArgs {
    pub field: String,
    pub backend: BackendKind,
}

/// Where `assign` and `encode` get their vectors: an embeddings file, or the titles of `--items`
/// embedded by a text model.
#[derive(Args)]
pub struct VectorsArgs {
    /// Embeddings of the items: .npy (float32 or float16, [items, dim]), or Parquet (a
    /// .parquet file or a directory of shards, one vector per row in --column).
    #[arg(
        long,
        required_unless_present = "text_model",
        conflicts_with = "text_model"
    )]
    embeddings: Option<PathBuf>,
    /// With Parquet --embeddings: the column holding the vectors (list, large_list or
    /// fixed_size_list of float32, float16 or float64). Default: `embedding`, else the only
    /// list-of-float column.
    #[arg(long, requires = "embeddings")]
    column: Option<String>,
    /// Instead of --embeddings: a text model (sentence-transformers directory or bundle) that
    /// embeds each item's title from --items, so titles become IDs in one command.
    #[arg(long, requires = "items")]
    text_model: Option<PathBuf>,
    /// With --text-model: the field (JSON key or CSV column) holding each item's title.
    #[arg(long, default_value = "title", requires = "text_model")]
    field: String,
    /// With --text-model: where the text model runs.
    #[arg(long, value_enum, default_value = "cpu", requires = "text_model")]
    text_backend: BackendKind,
}

impl VectorsArgs {
    /// The Parquet column named by --column, if any.
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// The embeddings file to read: --embeddings, or the titles of `items` embedded into a
    /// temporary file beside `out` (kept alive by the returned value).
    pub fn resolve(
        &self,
        items: Option<&Path>,
        out: &Path,
    ) -> Result<(PathBuf, Option<TemporaryEmbeddings>)> {
        match (&self.text_model, &self.embeddings) {
            (Some(model), _) => {
                let items = items.expect("clap requires --items with --text-model");
                let text = TextArgs {
                    field: self.field.clone(),
                    backend: self.text_backend,
                };
                let temporary = TemporaryEmbeddings::create(model, items, &text, out)?;
                Ok((temporary.path.clone(), Some(temporary)))
            }
            (None, Some(path)) => Ok((path.clone(), None)),
            (None, None) => unreachable!("clap requires --embeddings or --text-model"),
        }
    }
}

/// Titles read and embedded at a time: memory is bounded by this, not by the catalog.
const CHUNK_ITEMS: usize = 4096;

/// Token ids of a chunk's texts in, their sentence vectors out, on the chosen backend.
type Embedder<'a> = Box<dyn FnMut(&[Vec<u32>]) -> Vec<f32> + 'a>;

pub fn run(args: EmbedArgs) -> Result<ExitCode> {
    let model = text_model(&args.text_model)?;
    let started = std::time::Instant::now();
    let text = TextArgs {
        field: args.field,
        backend: args.backend,
    };
    let embedded = embed_items(&model, &args.items, &text, &args.out)?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "embedded {} items in {seconds:.1} s ({:.0} items/s) → {} ({}-d float32)",
        embedded.rows,
        embedded.rows as f64 / seconds,
        args.out.display(),
        model.dim()
    );
    Ok(ExitCode::SUCCESS)
}

/// A text model from a sentence-transformers directory or a bundle file.
pub fn text_model(path: &Path) -> Result<SentenceEncoder> {
    if path.is_dir() {
        Ok(SentenceEncoder::from_dir(path)?)
    } else {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read text model {}", path.display()))?;
        Ok(SentenceEncoder::from_bundle(
            &bytes,
            &path.display().to_string(),
        )?)
    }
}

fn open_items(path: &Path, field: &str) -> Result<ItemsReader<File>> {
    let format = ItemsFormat::from_path(path).with_context(|| {
        format!(
            "{}: items must be JSON Lines (.jsonl) or CSV (.csv), by their extension",
            path.display()
        )
    })?;
    let file = File::open(path).with_context(|| format!("cannot read items {}", path.display()))?;
    Ok(ItemsReader::new(
        file,
        format,
        &path.display().to_string(),
        field,
    )?)
}

/// What [`embed_items`] read: how many rows, and their ids where the file gives them.
pub struct Embedded {
    pub rows: usize,
    pub ids: Vec<Option<ItemId>>,
}

/// Embeds every item's text from `items` into the float32 .npy `out`, a chunk at a time. The
/// file is read twice: once to check every row (so a bad line is named before any time goes into
/// embedding), once to embed.
pub fn embed_items(
    model: &SentenceEncoder,
    items: &Path,
    text: &TextArgs,
    out: &Path,
) -> Result<Embedded> {
    let mut reader = open_items(items, &text.field)?;
    let mut ids = Vec::new();
    while let Some(chunk) = reader.next_chunk(CHUNK_ITEMS)? {
        ids.extend(chunk.into_iter().map(|item| item.id));
    }
    let rows = ids.len();
    if rows == 0 {
        bail!("{}: no items", items.display());
    }
    let mut file = AtomicFile::create(out)?;
    file.write(&npy_header::<f32>(rows, model.dim()))?;
    let bar = progress(rows);
    let mut reader = open_items(items, &text.field)?;
    let mut run_chunk: Embedder = match text.backend {
        BackendKind::Cpu => Box::new(|tokens| model.embed_tokens(tokens)),
        BackendKind::Cuda => cuda_embedder(model)?,
    };
    let mut done = 0;
    while let Some(chunk) = reader.next_chunk(CHUNK_ITEMS)? {
        let tokens = chunk
            .iter()
            .enumerate()
            .map(|(i, item)| {
                model.tokenize(&item.title).map_err(|reason| {
                    anyhow::anyhow!("{}: item {}: {reason}", items.display(), done + i + 1)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let vectors = run_chunk(&tokens);
        let mut bytes = Vec::with_capacity(vectors.len() * 4);
        push_npy_values(&vectors, &mut bytes);
        file.write(&bytes)?;
        done += chunk.len();
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();
    if done != rows {
        bail!(
            "{}: the file changed while it was being read",
            items.display()
        );
    }
    file.finish()?;
    Ok(Embedded { rows, ids })
}

#[cfg(feature = "cuda")]
fn cuda_embedder(model: &SentenceEncoder) -> Result<Embedder<'_>> {
    crate::backend::check_cuda_env()?;
    crate::backend::configure_kernel_cache();
    let device = burn::backend::cuda::CudaDevice::default();
    let bert = model.burn_model::<crate::backend::Cuda>(&device);
    Ok(Box::new(move |tokens| {
        model.embed_tokens_on(&bert, tokens, &device)
    }))
}

#[cfg(not(feature = "cuda"))]
fn cuda_embedder(_: &SentenceEncoder) -> Result<Embedder<'_>> {
    bail!(
        "this rqvae-train was built without CUDA; rebuild with \
         `cargo build --release -p rqvae-train --features cuda`"
    )
}

/// A progress bar on a terminal; in a log, nothing (the summary line says what was done).
fn progress(rows: usize) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} items [{elapsed} < {eta}]")
                .expect("valid template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// For `assign` and `encode --text-model`: the items' vectors in a temporary .npy beside `out`
/// (removed when dropped), and their ids.
pub struct TemporaryEmbeddings {
    pub path: PathBuf,
    pub embedded: Embedded,
}

impl TemporaryEmbeddings {
    pub fn create(text_model: &Path, items: &Path, text: &TextArgs, out: &Path) -> Result<Self> {
        let model = text_model_with_note(text_model)?;
        let name = out
            .file_name()
            .with_context(|| format!("{} is not a file path", out.display()))?;
        let path = out.with_file_name(format!(
            ".{}.{}.vectors.npy",
            name.to_string_lossy(),
            std::process::id()
        ));
        let started = std::time::Instant::now();
        let embedded = embed_items(&model, items, text, &path)?;
        eprintln!(
            "embedded {} titles with {} in {:.1} s",
            embedded.rows,
            text_model.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Self { path, embedded })
    }
}

fn text_model_with_note(path: &Path) -> Result<SentenceEncoder> {
    text_model(path).with_context(|| format!("--text-model {}", path.display()))
}

impl Drop for TemporaryEmbeddings {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
