//! The library's integration tests, built as one test binary. Each file used to be a binary of
//! its own that compiled burn's generic code and linked it again: in a cold CI run that was about
//! seven minutes of the release test build.

mod common;
#[path = "../support/data.rs"]
mod data;

mod atomic;
mod canonical;
mod fuzz;
mod host_model;
mod id_table;
mod import;
mod input_transform;
mod kmeans;
mod labels;
mod map;
mod metrics;
mod model_card;
mod npy;
mod parquet_embeddings;
mod parquet_table;
mod prefix_groups;
mod quantizer;
mod sample;
mod sinkhorn;
mod text;
mod token_exports;
mod training;
mod weights;
