//! Checkpoints that survive a kill at any moment: model, optimizer state and progress written
//! and synced beside the old checkpoint, then renamed into place; and resuming from them.

use super::config::{check_recipe, TrainConfig};
use super::engine::Engine;
use super::error::TrainError;
use super::Trainer;
use crate::config::RqVaeConfig;
use crate::embeddings::Embeddings;
use crate::model::RqVae;
use crate::weights::{ModelWeights, Precision};
use burn::module::ParamId;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Progress saved beside a checkpoint's weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    epochs_done: usize,
    step: usize,
    /// Parameter ids in [`param_order`] order: AdamW's saved state is keyed by them, and a model
    /// rebuilt from the weights file gets fresh ids, so resume maps old ids to new ones.
    param_ids: Vec<u64>,
    model: RqVaeConfig,
    train: TrainConfig,
}

impl<E: Engine> Trainer<E> {
    /// Writes model, optimizer state and progress into `dir` so that a kill at any moment leaves
    /// one complete checkpoint: the new one is written and synced in `dir.tmp`, the old one is
    /// renamed to `dir.old`, the new one renamed into place, and only then `dir.old` removed.
    /// [`recover_checkpoint`] puts `dir.old` back when a kill fell between the two renames.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let err = |reason: String| TrainError::Checkpoint {
            path: dir.display().to_string(),
            reason,
        };
        let (tmp, old) = (sibling(dir, "tmp"), sibling(dir, "old"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| err(e.to_string()))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| err(e.to_string()))?;
        write_synced(
            &tmp.join("model.safetensors"),
            &self.weights().to_bytes(Precision::F32)?,
        )
        .map_err(|e| err(e.to_string()))?;
        let param_ids = self
            .engine
            .save_optimizer(&tmp.join("optimizer"))
            .map_err(err)?;
        sync_file(&tmp.join("optimizer.bin")).map_err(|e| err(e.to_string()))?;
        let state = CheckpointState {
            epochs_done: self.epochs_done,
            step: self.step,
            param_ids,
            model: self.config.clone(),
            train: self.train.clone(),
        };
        write_synced(
            &tmp.join("state.json"),
            serde_json::to_string_pretty(&state)
                .expect("state serialises")
                .as_bytes(),
        )
        .map_err(|e| err(e.to_string()))?;
        if dir.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(|e| err(e.to_string()))?;
            }
            std::fs::rename(dir, &old).map_err(|e| err(e.to_string()))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| err(e.to_string()))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent).map_err(|e| err(e.to_string()))?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }

    /// Continues from a checkpoint written by [`Trainer::save_checkpoint`] with any engine.
    /// `train` may extend the number of epochs; everything else must match what the run
    /// started with.
    pub fn resume(
        dir: &Path,
        train: TrainConfig,
        data: &Embeddings,
        device: &E::Device,
    ) -> Result<Self, TrainError> {
        let err = |reason: String| TrainError::Checkpoint {
            path: dir.display().to_string(),
            reason,
        };
        recover_checkpoint(dir).map_err(|e| err(e.to_string()))?;
        let state = read_state(dir)?;
        check_recipe(&train, data, &state.model)?;
        let unchanged = TrainConfig {
            epochs: state.train.epochs,
            ..train.clone()
        };
        if unchanged != state.train {
            return Err(err(format!(
                "only the number of epochs may change on resume; the run was started with {} \
                 and is resumed with {}",
                serde_json::to_string(&state.train).expect("serialises"),
                serde_json::to_string(&train).expect("serialises"),
            )));
        }
        let bytes = std::fs::read(dir.join("model.safetensors")).map_err(|e| err(e.to_string()))?;
        let weights = ModelWeights::from_bytes(&bytes)?;
        let engine = E::restore(
            &super::network(&weights),
            &dir.join("optimizer"),
            &state.param_ids,
            &train,
            &super::transformed(&weights.input, data),
            device,
        )
        .map_err(err)?;
        Ok(Self {
            engine,
            config: state.model,
            input: weights.input,
            anisotropy: None,
            rows: data.rows(),
            train,
            epochs_done: state.epochs_done,
            step: state.step,
        })
    }
}

/// The recipe the checkpoint in `dir` was written with.
pub fn saved_recipe(dir: &Path) -> Result<TrainConfig, TrainError> {
    Ok(read_state(dir)?.train)
}

fn read_state(dir: &Path) -> Result<CheckpointState, TrainError> {
    let err = |reason: String| TrainError::Checkpoint {
        path: dir.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("state.json: {e}")))
}

/// `dir` with `.suffix` appended to its last component.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Makes renames inside `dir` durable. Directories cannot be opened for syncing on Windows;
/// there the rename is as durable as the platform makes it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Restores the state [`Trainer::save_checkpoint`] guarantees after a kill during a save: when
/// only `dir.old` is complete (the kill fell between its two renames) it becomes `dir` again;
/// a half-written `dir.tmp`, and a `dir.old` that is no longer needed, are removed.
pub fn recover_checkpoint(dir: &Path) -> std::io::Result<()> {
    let (tmp, old) = (sibling(dir, "tmp"), sibling(dir, "old"));
    if !dir.exists() && old.exists() {
        std::fs::rename(&old, dir)?;
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Whether `run`'s checkpoint, or the earlier one a kill during a save left behind, exists.
pub fn has_checkpoint(run: &Path) -> bool {
    let dir = checkpoint_dir(run);
    dir.join("state.json").is_file() || sibling(&dir, "old").join("state.json").is_file()
}

/// Every parameter's id, in a fixed order: encoder layers (weight, bias), codebooks, decoder.
/// Checkpoints list their optimizer state's ids in this order, whatever the engine.
pub(crate) fn param_order<B: Backend>(model: &RqVae<B>) -> Vec<ParamId> {
    let mlp = |m: &crate::model::Mlp<B>| -> Vec<ParamId> {
        m.layers
            .iter()
            .flat_map(|l| std::iter::once(l.weight.id).chain(l.bias.as_ref().map(|b| b.id)))
            .collect()
    };
    let mut ids = mlp(&model.encoder);
    ids.extend(model.quantizer.codebooks.iter().map(|c| c.id));
    if let Some(d) = &model.decoder {
        ids.extend(mlp(d));
    }
    ids
}

/// The path of a run's checkpoint.
pub fn checkpoint_dir(run: &Path) -> PathBuf {
    run.join("checkpoint")
}
