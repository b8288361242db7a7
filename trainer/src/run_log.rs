//! A run's `log.jsonl`: exactly one line per completed epoch, however often the run was killed
//! and resumed.
//!
//! A line is written when its epoch ends, before that epoch's checkpoint, so a killed run's log
//! can hold epochs past its last checkpoint (and a half-written last line). Those epochs run
//! again after `--resume`, so the log is cut back to the checkpoint's epoch first.

use crate::output::write_atomic;
use anyhow::{Context, Result};
use rqvae::train::EpochReport;
use std::fs::File;
use std::path::Path;

/// Opens the log for appending the epochs after `epochs_done`: a new run's log starts empty, a
/// resumed run's keeps its lines for epochs `1..=epochs_done` and drops the rest.
pub fn open(path: &Path, epochs_done: usize) -> Result<File> {
    if epochs_done == 0 {
        return File::create(path).with_context(|| format!("cannot create {}", path.display()));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut kept = String::new();
    let mut epochs = 0;
    for line in text.lines() {
        let Ok(report) = serde_json::from_str::<EpochReport>(line) else {
            break;
        };
        if report.epoch != epochs + 1 || report.epoch > epochs_done {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
        epochs += 1;
    }
    if epochs < epochs_done {
        eprintln!(
            "warning: {} lists {epochs} of the {epochs_done} epochs the checkpoint has done; \
             it goes on from there",
            path.display()
        );
    }
    write_atomic(path, kept.as_bytes())?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}
