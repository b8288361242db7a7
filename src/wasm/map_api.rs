//! The explorer's map behind the npm package's `mapLayout` (feature `wasm`): a UMAP layout of
//! latents ([`crate::map`]) that JavaScript advances a few epochs at a time, so that a worker can
//! post the map while it settles and stop when asked.

use crate::map::{check_input, MapConfig, MapError, MapLayout};
use crate::wasm::error::ApiError;
use wasm_bindgen::prelude::*;

impl From<MapError> for ApiError {
    fn from(e: MapError) -> Self {
        let code = match e {
            MapError::NonFinite { .. } => "ERR_NON_FINITE",
            MapError::Shape { .. } => "ERR_DIMENSION",
            MapError::Option { .. } => "ERR_OPTION",
            MapError::TooFew { .. } => "ERR_INPUT",
        };
        Self::new(code, format!("map: {e}"))
    }
}

/// The options as [`MapConfig`]; `epochs` 0 picks by size.
fn config(neighbours: usize, epochs: usize, seed: u64) -> MapConfig {
    MapConfig::new()
        .with_neighbours(neighbours)
        .with_epochs((epochs > 0).then_some(epochs))
        .with_seed(seed)
}

/// The map's start (the latents' two principal components, as [`MapLayout`] starts from), for a
/// map [`WasmMapLayout::new`] will accept: cheap enough to draw at once, while the neighbour
/// graph is still being built.
#[wasm_bindgen(js_name = mapStart)]
pub fn map_start(
    latents: &[f32],
    dim: usize,
    neighbours: usize,
    epochs: usize,
    seed: u64,
) -> Result<Vec<f32>, ApiError> {
    check_input(latents, dim, &config(neighbours, epochs, seed))?;
    Ok(crate::map::optimize::pca_start(latents, dim, seed))
}

/// The epochs a map of `rows` items runs (`epochs` 0: chosen by size).
#[wasm_bindgen(js_name = mapEpochs)]
pub fn map_epochs(rows: usize, epochs: usize) -> usize {
    config(15, epochs, 0).epochs_for(rows)
}

#[wasm_bindgen]
pub struct WasmMapLayout {
    inner: MapLayout,
}

#[wasm_bindgen]
impl WasmMapLayout {
    /// Builds the neighbour graph of `latents` (`rows × dim`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        latents: &[f32],
        dim: usize,
        neighbours: usize,
        epochs: usize,
        seed: u64,
    ) -> Result<WasmMapLayout, ApiError> {
        Ok(Self {
            inner: MapLayout::new(latents, dim, &config(neighbours, epochs, seed))?,
        })
    }

    /// Runs up to `epochs` more epochs; returns the epochs done so far.
    pub fn run(&mut self, epochs: usize) -> usize {
        self.inner.run(epochs)
    }

    /// The positions now, `rows × 2`.
    pub fn positions(&self) -> Vec<f32> {
        self.inner.positions().to_vec()
    }

    pub fn epochs(&self) -> usize {
        self.inner.epochs()
    }

    #[wasm_bindgen(js_name = epochsDone)]
    pub fn epochs_done(&self) -> usize {
        self.inner.epochs_done()
    }
}
