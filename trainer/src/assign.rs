//! `rqvae-train assign`: the ID table, new or grown.

use crate::inputs::CHUNK_ROWS;
use crate::output::{write_atomic, write_atomic_with};
use anyhow::{bail, Context, Result};
use clap::Args;
use rqvae::ids::assign::{AssignOptions, AssignReport, Assignment};
use rqvae::ids::canonical;
use rqvae::ids::item_ids::ItemIds;
use rqvae::ids::quality::table_quality;
use rqvae::ids::table::{read_item_ids, IdTable, ItemId, Resolution};
use rqvae::parquet::is_parquet_input;
use rqvae::HostModel;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct AssignArgs {
    /// Model weights (.safetensors); with a decoder, the cost of re-assignment is reported.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    vectors: crate::embed::VectorsArgs,
    /// Item ids: JSON Lines, line i `{"id": …}` for row i. Without it an item's id is its row
    /// number, counted on from the end of --existing. With --text-model: JSON Lines or CSV with
    /// a header, holding each item's title (and its id, where there is an "id").
    #[arg(long)]
    items: Option<PathBuf>,
    /// An ID table to grow (JSON Lines, or Parquet: a .parquet file or a directory of shards):
    /// its entries are kept as they are and new items are added after them.
    #[arg(long)]
    existing: Option<PathBuf>,
    /// The table to write: Parquet if it ends in .parquet, else JSON Lines; may be the same
    /// file as --existing.
    #[arg(long)]
    out: PathBuf,
    /// Resolve collisions with the disambiguation code only (TIGER-style), never moving an item
    /// to another last-level code. Only for a new table: a table keeps its policy.
    #[arg(long)]
    no_reassign: bool,
    /// Re-assign existing items whose embedding now gives other nearest codes (their old ID is
    /// released). By default they keep their ID and are only reported.
    #[arg(long)]
    reassign_changed: bool,
    /// Also export the table as CSV: item_id,sid_0,…
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Also export the table in LC-Rec's index format: {"<item id>": ["<a_5>", …]}.
    #[arg(long)]
    lcrec: Option<PathBuf>,
    /// Also write the assignment report and the table's quality report as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// An ID table: Parquet (a `.parquet` file or a directory of shards), else JSON Lines read line
/// by line (a large table is never also held as text).
pub fn read_table(path: &Path) -> Result<IdTable> {
    if is_parquet_input(path) {
        return Ok(rqvae::ids::parquet::read_table(path)?);
    }
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read ID table {}", path.display()))?;
    IdTable::read_jsonl(std::io::BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("{}: not a usable ID table", path.display()))
}

/// Writes an ID table: Parquet if `path` ends in `.parquet`, else JSON Lines.
pub fn write_table(table: &IdTable, path: &Path) -> Result<()> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        return Ok(rqvae::ids::parquet::write_table(table, path)?);
    }
    write_atomic_with(path, |w| table.write_jsonl(w))
}

pub fn run(args: AssignArgs) -> Result<ExitCode> {
    let weights = crate::inputs::model(&args.model)?;
    let host = HostModel::new(&weights)
        .with_context(|| format!("{}: not usable rqvae weights", args.model.display()))?;
    // Read twice in chunks, never whole: nearest codes first (small), then the rows again for
    // collision resolution, so memory is bounded by a chunk and the table.
    let (embeddings, text) = args.vectors.resolve(args.items.as_deref(), &args.out)?;
    let mut reader =
        crate::inputs::embedding_rows_for(&embeddings, args.vectors.column(), &weights)?;
    let rows = reader.rows();
    let c = &weights.config;
    let requested = if args.no_reassign {
        Resolution::Suffix
    } else {
        Resolution::Reassign
    };
    let mut table = match &args.existing {
        Some(path) => {
            let table = read_table(path)?;
            table
                .check_model(host.fingerprint(), c.levels, c.codebook_size)
                .with_context(|| format!("{}: cannot grow this table", path.display()))?;
            if args.no_reassign && table.header().resolution != requested {
                bail!(
                    "{}: the table was made with collision re-assignment; --no-reassign only \
                     applies to a new table",
                    path.display()
                );
            }
            table
        }
        None => IdTable::new(host.fingerprint(), c.levels, c.codebook_size, requested)?,
    };
    let ids = match (&text, &args.items) {
        (Some(t), Some(path)) => ItemIds::from(text_ids(&t.embedded.ids, path, &table, rows)?),
        (None, Some(path)) => {
            let ids = read_item_ids(&read_text(path, "items file")?)
                .with_context(|| format!("{}: not a usable items file", path.display()))?;
            if ids.len() != rows {
                bail!(
                    "{} names {} items but {} has {} rows: line i must name row i",
                    path.display(),
                    ids.len(),
                    embeddings.display(),
                    rows
                );
            }
            ItemIds::from(ids)
        }
        (_, None) => table
            .row_numbers(rows)
            .context("pass the new items' ids with --items")?,
    };
    let started = std::time::Instant::now();
    let mut nearest = Vec::with_capacity(rows * c.levels);
    while let Some((_, chunk)) = reader.next_chunk(CHUNK_ROWS)? {
        nearest.extend(canonical::encode(&host, &chunk));
    }
    let options = AssignOptions {
        reassign_changed: args.reassign_changed,
    };
    let mut run = Assignment::plan(&mut table, &host, &nearest, &ids, options)?;
    let first_layout = (reader.rows(), reader.dim());
    let mut reader =
        crate::inputs::embedding_rows_for(&embeddings, args.vectors.column(), &weights)?;
    if (reader.rows(), reader.dim()) != first_layout {
        bail!(
            "{}: the file changed while it was being read",
            embeddings.display()
        );
    }
    while let Some((first, chunk)) = reader.next_chunk(CHUNK_ROWS)? {
        run.serve(&mut table, &host, &chunk, first);
    }
    let report = run.finish(&table);
    let seconds = started.elapsed().as_secs_f64();
    write_table(&table, &args.out)?;
    if let Some(path) = &args.csv {
        write_atomic_with(path, |w| table.write_csv(w))?;
    }
    if let Some(path) = &args.lcrec {
        write_atomic_with(path, |w| table.write_lcrec_json(w))?;
    }
    let quality = table_quality(&table);
    if let Some(path) = &args.report {
        let json = serde_json::json!({ "assign": report, "table": quality });
        write_atomic(path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    }
    eprint!("{}", summary(&report));
    print!("{}", quality.table());
    eprintln!(
        "assigned {} items in {seconds:.2} s → {} ({} items)",
        report.rows,
        args.out.display(),
        table.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The ids of items read with their titles: every row's id where the file gives them, row
/// numbers (counted on from the table's end) where it gives none; a file that names some rows
/// and not others is refused, since row numbers could collide with its ids.
fn text_ids(
    ids: &[Option<ItemId>],
    path: &Path,
    table: &IdTable,
    rows: usize,
) -> Result<Vec<ItemId>> {
    if ids.iter().all(Option::is_none) {
        return table
            .row_number_ids(rows)
            .context("give the new items ids (an \"id\" field or column in --items)");
    }
    if let Some(row) = ids.iter().position(Option::is_none) {
        bail!(
            "{}: item {} has no \"id\" while others have one: give every item an id, or none",
            path.display(),
            row + 1
        );
    }
    let ids: Vec<ItemId> = ids.iter().flatten().cloned().collect();
    let mut seen = std::collections::HashMap::new();
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id, row) {
            bail!(
                "{}: id {id} is given to item {} and item {}: ids must be unique",
                path.display(),
                first + 1,
                row + 1
            );
        }
    }
    Ok(ids)
}

fn summary(r: &AssignReport) -> String {
    let pct = |v: f64| format!("{:.2} %", 100.0 * v);
    let mut s = format!(
        "rows {}: {} added, {} kept their ID, {} changed embedding{}\n",
        r.rows,
        r.added,
        r.kept,
        r.changed.len(),
        if r.reassigned_changed > 0 {
            format!(" ({} re-assigned)", r.reassigned_changed)
        } else if r.changed.is_empty() {
            String::new()
        } else {
            " (kept their ID; --reassign-changed re-assigns them)".into()
        }
    );
    if !r.changed.is_empty() {
        let shown: Vec<String> = r.changed.iter().take(10).map(ToString::to_string).collect();
        let more = r.changed.len().saturating_sub(10);
        s.push_str(&format!(
            "  changed: {}{}\n",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    s.push_str(&format!(
        "collisions: {} moved to another last-level code, {} numbered by the disambiguation code\n\
         3-code uniqueness: {} before resolution, {} after; full IDs unique: {}\n",
        r.moved,
        r.suffixed,
        pct(r.unique_nearest),
        pct(r.unique_assigned),
        pct(r.unique_full)
    ));
    if let Some(c) = &r.cost {
        s.push_str(&format!(
            "re-assignment cost, cosine(input, decode): all rows {:.4} → {:.4}; moved rows {:.4} → {:.4}\n",
            c.cosine_nearest, c.cosine_assigned, c.moved_cosine_nearest, c.moved_cosine_assigned
        ));
    }
    s
}
