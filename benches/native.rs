//! Native CPU throughput: encoding the catalog, the ID contract and the ID table, and one training
//! epoch with each training engine. The catalog is the full one where `RQVAE_TEST_DATA` names its
//! folder (the published figures), else the shipped 3,000-row sample.
//!
//! `cargo bench --bench native` (set RAYON_NUM_THREADS=1 for single-thread figures). The model is
//! the reference architecture (768 → 512 → 256 → 128 → 32, 3 × 256 codes); raw throughput does not
//! depend on the weights' values, so a freshly initialised model stands in for a trained one. The
//! contract and the table depend on them (near-ties re-decided, collisions resolved), so those
//! use the shipped default model.

use burn::backend::{Autodiff, NdArray};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rqvae::ids::assign::{assign, AssignOptions};
use rqvae::ids::canonical::encode_on_backend;
use rqvae::ids::table::{IdTable, Resolution};
use rqvae::inference::{encode_ids, DEFAULT_BATCH};
use rqvae::train::{BurnEngine, CpuDevice, CpuEngine, TrainConfig, Trainer};
use rqvae::{Embeddings, HostModel, ModelWeights, RqVaeConfig};
use std::path::Path;
use std::time::Duration;

fn catalog() -> Embeddings {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("RQVAE_TEST_DATA") {
        Some(dir) => Path::new(&dir).join("embeddings_all-mpnet-base-v2_768d.f16.npy"),
        None => {
            eprintln!("RQVAE_TEST_DATA is not set: benchmarking on the 3,000-row sample");
            root.join("www/sample/games-3000.f16.npy")
        }
    };
    rqvae::npy::read_embeddings(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn encode(c: &mut Criterion) {
    let x = catalog();
    let device = Default::default();
    let model = RqVaeConfig::with_input_dim(x.dim()).init::<NdArray<f32>>(&device);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(x.rows() as u64));
    group.sample_size(20);
    group.bench_function("catalog", |b| {
        b.iter(|| encode_ids(&model, &x, DEFAULT_BATCH, &device))
    });

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/default.safetensors");
    let weights = ModelWeights::from_bytes(&std::fs::read(path).expect("default model"))
        .expect("valid weights");
    let host = HostModel::new(&weights).expect("host model");
    let trained = weights.to_model::<NdArray<f32>>(&device);
    group.bench_function("default_model_burn_raw", |b| {
        b.iter(|| encode_ids(&trained, &x, DEFAULT_BATCH, &device))
    });
    group.bench_function("default_model_burn_with_contract", |b| {
        b.iter(|| encode_on_backend(&trained, &host, &x, DEFAULT_BATCH, &device))
    });
    group.bench_function("default_model_canonical", |b| {
        b.iter(|| rqvae::ids::canonical::encode(&host, &x))
    });
    group.bench_function("default_model_assign_table", |b| {
        let ids = IdTable::new(host.fingerprint(), 3, 256, Resolution::Reassign)
            .unwrap()
            .row_number_ids(x.rows())
            .unwrap();
        b.iter(|| {
            let mut table = IdTable::new(host.fingerprint(), 3, 256, Resolution::Reassign).unwrap();
            assign(&mut table, &host, &x, &ids, AssignOptions::default()).unwrap()
        })
    });
    group.finish();
}

/// One epoch of the reference recipe on the catalog with each engine: the
/// hand-written CPU engine (the CLI's default on the CPU) and burn's autodiff on burn's CPU
/// backend.
fn train_epoch(c: &mut Criterion) {
    let x = catalog();
    let train = TrainConfig {
        epochs: 1000,
        ..TrainConfig::default()
    };
    let config = RqVaeConfig::with_input_dim(x.dim());
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    let mut cpu =
        Trainer::<CpuEngine>::new(config.clone(), train.clone(), &x, &CpuDevice).expect("trainer");
    group.bench_function("epoch_catalog_batch_4096/cpu_engine", |b| {
        b.iter(|| cpu.run_epoch())
    });
    let mut burn =
        Trainer::<BurnEngine<Autodiff<NdArray<f32>>>>::new(config, train, &x, &Default::default())
            .expect("trainer");
    group.bench_function("epoch_catalog_batch_4096/burn_ndarray", |b| {
        b.iter(|| burn.run_epoch())
    });
    group.finish();
}

criterion_group!(benches, encode, train_epoch);
criterion_main!(benches);
