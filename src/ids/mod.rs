//! Semantic IDs: the ID table and everything that decides, checks and measures what it holds.
//!
//! - [`table`]: the versioned JSON Lines file (which item has which ID);
//! - [`assign`]: collision resolution and incremental assignment;
//! - [`canonical`]: the cross-backend contract (the same embedding, the same ID everywhere);
//! - [`quality`]: a table's quality report and the churn between two tables;
//! - [`fingerprint`]: which weights made a table;
//! - [`item_ids`]: a compact column of item ids;
//! - [`labels`]: names for prefixes, from titles or an editor;
//! - [`vocabulary`], [`item_tokens`], [`prefix_tree`]: the exports a generative recommender
//!   consumes (its token ids, each item's tokens, the tree that constrains decoding);
//! - `parquet`: the table as Parquet (native builds with the `parquet` feature).

pub mod assign;
pub mod canonical;
pub mod fingerprint;
pub mod item_ids;
pub mod item_tokens;
pub mod labels;
#[cfg(all(feature = "parquet", not(target_arch = "wasm32")))]
pub mod parquet;
pub mod prefix_tree;
pub mod quality;
pub mod table;
pub mod vocabulary;
