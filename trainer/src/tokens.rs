//! `rqvae-train tokens`: an ID table's exports for a generative recommender, in one directory:
//! the vocabulary of its tokens, every item's tokens (JSON Lines and CSV), the prefix tree for
//! constrained decoding, and with `--model` the model card. Every input is read and checked
//! before any file is written, and the files appear together or not at all.

use crate::output::StagedFiles;
use anyhow::{Context, Result};
use clap::Args;
use rqvae::ids::item_tokens::{write_tokens_csv, write_tokens_jsonl};
use rqvae::ids::prefix_tree::write_prefix_tree_json;
use rqvae::ids::vocabulary::{write_vocabulary_json, TokenLayout};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TokensArgs {
    /// The ID table (from `assign`): JSON Lines, or Parquet (a .parquet file or a directory of
    /// shards).
    #[arg(long)]
    table: PathBuf,
    /// Directory to write vocabulary.json, tokens.jsonl, tokens.csv and prefix-tree.json into
    /// (and model.json with --model); created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Token id of `<a_0>`, the first of the IDs' tokens: a language model's vocabulary size
    /// puts them after its own tokens.
    #[arg(long, default_value_t = 0)]
    token_offset: u64,
    /// The model that made the table (its fingerprint must be the table's): also write its
    /// model card, model.json.
    #[arg(long)]
    model: Option<PathBuf>,
    /// With --model: measure the card's quality metrics on these embeddings (as `eval --json`).
    #[arg(long, requires = "model")]
    embeddings: Option<PathBuf>,
    /// With Parquet --embeddings: the column holding the vectors.
    #[arg(long, requires = "embeddings")]
    column: Option<String>,
    /// With --model: the run directory that trained it, whose recipe goes into the card.
    #[arg(long, requires = "model")]
    run: Option<PathBuf>,
}

pub fn run(args: TokensArgs) -> Result<ExitCode> {
    let table = crate::assign::read_table(&args.table)?;
    let layout = TokenLayout::new(&table, args.token_offset).context("--token-offset")?;
    let card = match &args.model {
        None => None,
        Some(model) => {
            let (card, weights) = crate::card::read_card(model)?;
            let header = table.header();
            if card.model != header.model {
                anyhow::bail!(
                    "{} is not the model that made {}: its fingerprint is {}, the table's is {} \
                     (the model card would describe another model than the one behind these IDs)",
                    model.display(),
                    args.table.display(),
                    card.model,
                    header.model
                );
            }
            Some(crate::card::complete(
                card,
                &weights,
                model,
                args.embeddings.as_deref(),
                args.column.as_deref(),
                args.run.as_deref(),
            )?)
        }
    };

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let offset = args.token_offset;
    let mut files = StagedFiles::default();
    files.write(&args.out.join("vocabulary.json"), |w| {
        Ok(write_vocabulary_json(&table, offset, w)?)
    })?;
    files.write(&args.out.join("tokens.jsonl"), |w| {
        Ok(write_tokens_jsonl(&table, offset, w)?)
    })?;
    files.write(&args.out.join("tokens.csv"), |w| {
        Ok(write_tokens_csv(&table, offset, w)?)
    })?;
    files.write(&args.out.join("prefix-tree.json"), |w| {
        Ok(write_prefix_tree_json(&table, offset, w)?)
    })?;
    if let Some(card) = &card {
        files.write(&args.out.join("model.json"), |w| {
            std::io::Write::write_all(w, card.to_json().as_bytes())
        })?;
    }
    files.finish()?;
    eprintln!(
        "wrote {}: vocabulary.json ({} tokens, ids {} to {}), tokens.jsonl, tokens.csv and \
         prefix-tree.json ({} items){}",
        args.out.display(),
        layout.size(),
        offset,
        offset + layout.size() - 1,
        table.len(),
        if card.is_some() { ", model.json" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}
