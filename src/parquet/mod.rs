//! Embeddings from Parquet: one `.parquet` file or a directory of shards, read a record batch at
//! a time, because catalogs of 10^8 items arrive as Parquet shards rather than one `.npy`.
//!
//! - [`shards`]: which files a path names, in which order, and how many rows each holds;
//! - [`column`]: which column holds the vectors, and whether its Arrow type is one we read;
//! - [`reader`]: the streaming row reader and the whole-file helper;
//! - [`error`]: what can be wrong, naming the file, the row and the column.

pub mod column;
pub mod error;
pub mod reader;
pub mod shards;

pub use column::DEFAULT_COLUMN;
pub use error::ParquetError;
pub use reader::{read_embeddings, ParquetLayout, ParquetRowReader};
pub use shards::is_parquet_input;
