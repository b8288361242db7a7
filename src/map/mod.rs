//! A 2-D map of a catalog for the explorer: UMAP (McInnes, Healy and Melville, 2018) on the
//! model's latents, the vectors the quantizer sees, so that items near each other on the map
//! are items near each other in the space their codes come from. The latents are small (32-d
//! for the reference model), which is what makes the neighbour search affordable in a browser
//! tab; no ID depends on the map.
//!
//! [`knn`] finds each item's neighbours, [`graph`] weighs them, [`optimize`] places them.
//! [`MapLayout`] runs the descent in steps so that a page can draw the map while it settles.

pub mod graph;
pub mod knn;
pub mod optimize;

use burn::config::Config;
use optimize::Descent;

/// How the map is made. The defaults are UMAP's, but for the epoch count on large catalogs.
#[derive(Config, Debug)]
pub struct MapConfig {
    /// Neighbours each item is tied to, itself counted (UMAP's `n_neighbors`).
    #[config(default = 15)]
    pub neighbours: usize,
    /// Epochs of the descent; `None`: 500 up to 10,000 items, else 200 (UMAP's choice).
    #[config(default = "None")]
    pub epochs: Option<usize>,
    /// Random pairs pushed apart per pull along an edge.
    #[config(default = 5)]
    pub negative_rate: usize,
    /// NN-descent passes at most.
    #[config(default = 12)]
    pub max_knn_passes: usize,
    #[config(default = 42)]
    pub seed: u64,
}

impl MapConfig {
    /// The epochs a map of `rows` items runs.
    pub fn epochs_for(&self, rows: usize) -> usize {
        self.epochs
            .unwrap_or(if rows <= 10_000 { 500 } else { 200 })
    }
}

/// What the map refuses to lay out.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MapError {
    #[error("the latents hold {len} values, not a whole number of rows of {dim}")]
    Shape { len: usize, dim: usize },
    #[error("a map needs more items than neighbours: {rows} items, {neighbours} neighbours each")]
    TooFew { rows: usize, neighbours: usize },
    #[error("row {row}, value {col} is {value}: a map needs finite values")]
    NonFinite { row: usize, col: usize, value: f32 },
    #[error("{what} must be at least {min}, found {found}")]
    Option {
        what: &'static str,
        min: usize,
        found: usize,
    },
}

/// What [`MapLayout::new`] refuses, checked without building anything (so that a page can draw
/// the start only for a map that will be made); returns the row count.
pub fn check_input(latents: &[f32], dim: usize, config: &MapConfig) -> Result<usize, MapError> {
    if config.neighbours < 2 {
        return Err(MapError::Option {
            what: "neighbours",
            min: 2,
            found: config.neighbours,
        });
    }
    if config.epochs == Some(0) {
        return Err(MapError::Option {
            what: "epochs",
            min: 1,
            found: 0,
        });
    }
    check_latents(latents, dim)?;
    let rows = latents.len() / dim;
    if rows <= config.neighbours {
        return Err(MapError::TooFew {
            rows,
            neighbours: config.neighbours,
        });
    }
    Ok(rows)
}

/// Checks that `latents` are whole rows of `dim` finite values.
fn check_latents(latents: &[f32], dim: usize) -> Result<(), MapError> {
    if dim == 0 || !latents.len().is_multiple_of(dim) {
        return Err(MapError::Shape {
            len: latents.len(),
            dim,
        });
    }
    if let Some(at) = latents.iter().position(|v| !v.is_finite()) {
        return Err(MapError::NonFinite {
            row: at / dim,
            col: at % dim,
            value: latents[at],
        });
    }
    Ok(())
}

/// A map being laid out: the neighbour graph is built on creation, the positions move with each
/// [`MapLayout::run`].
pub struct MapLayout {
    positions: Vec<f32>,
    descent: Descent,
}

impl MapLayout {
    /// Builds the neighbour graph of `latents` (`rows × dim`, row-major) and the start.
    pub fn new(latents: &[f32], dim: usize, config: &MapConfig) -> Result<Self, MapError> {
        let rows = check_input(latents, dim, config)?;
        let knn = knn::nn_descent(
            latents,
            dim,
            config.neighbours - 1,
            config.seed,
            config.max_knn_passes,
        );
        let graph = graph::fuzzy_graph(&knn);
        let positions = optimize::pca_start(latents, dim, config.seed);
        let descent = Descent::new(
            graph,
            config.epochs_for(rows),
            config.negative_rate.max(1),
            config.seed,
        );
        Ok(Self { positions, descent })
    }

    /// Runs up to `epochs` more epochs; returns the epochs done so far.
    pub fn run(&mut self, epochs: usize) -> usize {
        self.descent.run(&mut self.positions, epochs)
    }

    /// Runs every remaining epoch.
    pub fn finish(mut self) -> Vec<f32> {
        let left = self.descent.epochs - self.descent.done;
        self.run(left);
        self.positions
    }

    /// `rows × 2` positions, row-major.
    pub fn positions(&self) -> &[f32] {
        &self.positions
    }

    pub fn epochs(&self) -> usize {
        self.descent.epochs
    }

    pub fn epochs_done(&self) -> usize {
        self.descent.done
    }
}

/// How well a 2-D map keeps neighbours: over `queries` (rows), the mean share of each row's `k`
/// nearest rows in `data` that are also among its `k` nearest on the map. 1 is perfect; a
/// random map scores about `k / rows`.
pub fn neighbour_preservation(
    data: &[f32],
    dim: usize,
    positions: &[f32],
    queries: &[usize],
    k: usize,
) -> f64 {
    let mut kept = 0usize;
    for &q in queries {
        let high = knn::exact_neighbours(data, dim, q, k);
        let low = knn::exact_neighbours(positions, 2, q, k);
        kept += high.iter().filter(|r| low.contains(r)).count();
    }
    kept as f64 / (queries.len() * k).max(1) as f64
}
