//! Times the canonical encode (`canonical::encode_rows`, the call `rqvae.Model.encode` makes)
//! on a `.npy`'s rows with no Python around it, so that the Python package's cost per call can
//! be measured against it (`benches/python_overhead.py`, docs/python.md).
//!
//! `cargo run --release --example encode_timing -- MODEL.safetensors ROWS.npy REPEATS`
//! prints one JSON line: rows, and the median and fastest seconds per call.

use rqvae::ids::canonical;
use rqvae::{HostModel, ModelWeights};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: encode_timing MODEL.safetensors ROWS.npy REPEATS".into());
    }
    let weights = ModelWeights::from_bytes(&std::fs::read(&args[1])?)?;
    let host = HostModel::new(&weights)?;
    let x = rqvae::npy::read_embeddings(Path::new(&args[2]))?;
    let repeats: usize = args[3].parse()?;
    let mut seconds: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            black_box(canonical::encode_rows(
                &host,
                black_box(x.as_slice()),
                x.rows(),
            ));
            started.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    println!(
        "{{\"rows\": {}, \"median_s\": {:e}, \"min_s\": {:e}}}",
        x.rows(),
        seconds[seconds.len() / 2],
        seconds[0]
    );
    Ok(())
}
