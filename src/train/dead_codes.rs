//! Dead codes: at the end of an epoch, each code no item chose is moved onto a residual of its
//! level, so that every code stays in use.

use super::config::KMEANS_MAX_ROWS;
use super::engine::Engine;
use super::{subtract_nearest, Trainer};
use crate::host::matmul::nearest_rows;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

impl<E: Engine> Trainer<E> {
    /// Moves `dead` codes of `level` onto residuals (`[n, latent_dim]`) drawn without
    /// replacement.
    pub(super) fn replace_dead(
        &mut self,
        level: usize,
        dead: &[usize],
        points: &[f32],
        epoch: usize,
    ) {
        let dim = self.config.latent_dim;
        let n = points.len() / dim;
        let mut rng = StdRng::seed_from_u64(
            self.train.seed ^ ((epoch as u64) << 20) ^ ((level as u64) << 8) ^ 0xdead,
        );
        let mut picks: Vec<usize> = (0..n).collect();
        picks.shuffle(&mut rng);
        let mut codebook = self.engine.codebook(level);
        for (j, &code) in dead.iter().enumerate() {
            let src = picks[j % n];
            codebook[code * dim..(code + 1) * dim]
                .copy_from_slice(&points[src * dim..(src + 1) * dim]);
        }
        self.engine.set_codebook(level, codebook);
    }

    /// Moves each level's dead codes onto residuals of a data sample drawn with probability
    /// proportional to their squared error under that level's current codebook. Levels go in
    /// order, so a level's residuals already reflect the codes just placed above it.
    pub(super) fn reseed_from_errors(&mut self, dead: &[Vec<usize>], epoch: usize) {
        let take = self.rows.min(KMEANS_MAX_ROWS);
        let sample: Vec<usize> = self.permutation(epoch)[..take].to_vec();
        let mut residual = self.engine.latents(&sample);
        let dim = self.config.latent_dim;
        let mut rng = StdRng::seed_from_u64(self.train.seed ^ ((epoch as u64) << 20) ^ 0x5eed);
        for (level, dead) in dead.iter().enumerate() {
            let mut values = self.engine.codebook(level);
            if !dead.is_empty() {
                let (_, errors) = nearest_rows(&residual, &values, dim);
                let picks = draw_by_weight(errors, dead.len(), &mut rng);
                for (&code, &src) in dead.iter().zip(picks.iter().cycle()) {
                    values[code * dim..(code + 1) * dim]
                        .copy_from_slice(&residual[src * dim..(src + 1) * dim]);
                }
            }
            subtract_nearest(&mut residual, &values, dim);
            if !dead.is_empty() {
                self.engine.set_codebook(level, values);
            }
        }
    }
}

/// `count` distinct indices drawn with probability proportional to `weights`, without
/// replacement; once every positive weight is used, the rest are uniform over what is left.
fn draw_by_weight(mut weights: Vec<f32>, count: usize, rng: &mut StdRng) -> Vec<usize> {
    use rand::RngExt;
    let n = weights.len();
    let mut picks = Vec::with_capacity(count.min(n));
    let mut taken = vec![false; n];
    while picks.len() < count.min(n) {
        let total: f64 = weights.iter().map(|&w| w.max(0.0) as f64).sum();
        let pick = if total > 0.0 && total.is_finite() {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = None;
            for (i, &w) in weights.iter().enumerate() {
                target -= w.max(0.0) as f64;
                if w > 0.0 && target <= 0.0 {
                    chosen = Some(i);
                    break;
                }
            }
            chosen.unwrap_or_else(|| weights.iter().rposition(|&w| w > 0.0).unwrap_or(0))
        } else {
            let free: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
            free[rng.random_range(0..free.len())]
        };
        taken[pick] = true;
        weights[pick] = 0.0;
        picks.push(pick);
    }
    picks
}
