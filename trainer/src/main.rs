//! `rqvae-train`: train an RQ-VAE on item embeddings, evaluate it, assign semantic IDs and export
//! weights for the browser.

mod assign;
mod backend;
mod card;
mod embed;
mod encode;
mod eval;
mod export;
mod import;
mod inputs;
mod output;
mod run_log;
mod tokens;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rqvae-train",
    version,
    about = "Semantic IDs for product catalogs: train an RQ-VAE on item embeddings, evaluate it, \
             assign IDs and export weights for the browser.",
    after_help = "Typical use:\n  \
        rqvae-train train --embeddings items.npy --out runs/catalog\n  \
        rqvae-train eval --model runs/catalog/model.safetensors --embeddings items.npy\n  \
        rqvae-train encode --model runs/catalog/model.safetensors --embeddings items.npy --out ids.csv\n  \
        rqvae-train assign --model model.safetensors --embeddings items.npy --items items.jsonl --out ids.jsonl\n  \
        rqvae-train tokens --table ids.jsonl --out tokens/ --model model.safetensors\n  \
        rqvae-train export --run runs/catalog --out model.safetensors --f16\n  \
        rqvae-train import --pth best_model.pth --out model.safetensors\n  \
        rqvae-train embed --text-model all-MiniLM-L6-v2/ --items titles.jsonl --out items.npy\n  \
        rqvae-train assign --model model.safetensors --text-model all-MiniLM-L6-v2/ --items titles.csv --out ids.jsonl\n\n\
        Embeddings are .npy files: 2-D [items, dim], little-endian float32 or float16, C order."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model; writes config, checkpoints, final weights and metrics into a run directory.
    Train(train::TrainArgs),
    /// Compute the quality metrics of a model on embeddings (table, and JSON with --json).
    Eval(eval::EvalArgs),
    /// The model's codes for embeddings (.npy, .csv or .jsonl by the output's extension).
    Encode(encode::EncodeArgs),
    /// Give items unique, stable IDs in an ID table (new, or grown with --existing).
    Assign(assign::AssignArgs),
    /// An ID table's exports for a generative recommender: vocabulary, item tokens, prefix tree.
    Tokens(tokens::TokensArgs),
    /// A model's card (model.json): fingerprint, sizes, parameters, metadata, metrics.
    Card(card::CardArgs),
    /// Turn items' titles into sentence vectors (.npy) with a text model.
    Embed(embed::EmbedArgs),
    /// Write a run's weights as one .safetensors file for the browser (optionally f16).
    Export(export::ExportArgs),
    /// Turn a PyTorch checkpoint (.pth/.pt state dict) into a .safetensors model, never running it.
    Import(import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Encode(args) => encode::run(args),
        Command::Assign(args) => assign::run(args),
        Command::Tokens(args) => tokens::run(args),
        Command::Card(args) => card::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
