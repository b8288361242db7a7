//! Why a Parquet input cannot be read as embeddings: every error names the file, and where it
//! is about one value, the row (across all shards and within the file) and the column.

use std::fmt;

/// Where a value sits: the row numbered across every shard, the row within its file, the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowAt {
    pub path: String,
    pub column: String,
    /// 0-based, counted on across shards in file-name order.
    pub row: usize,
    /// 0-based, within `path`.
    pub row_in_file: usize,
}

impl fmt::Display for RowAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: row {} (row {} of this file), column {:?}",
            self.path, self.row, self.row_in_file, self.column
        )
    }
}

/// Why a Parquet file or directory is not usable embeddings.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a Parquet file ({reason})")]
    NotParquet { path: String, reason: String },
    #[error("{path}: the directory holds no *.parquet files")]
    NoShards { path: String },
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: String, reason: String },
    #[error("{path}: no column {column:?}; the columns are: {}", columns.join(", "))]
    MissingColumn {
        path: String,
        column: String,
        /// `name (type)` of each column.
        columns: Vec<String>,
    },
    #[error("{path}: no column named \"embedding\" and {candidates} list-of-float columns, so which holds the vectors is not clear; name it (--column); the columns are: {}", columns.join(", "))]
    AmbiguousColumn {
        path: String,
        candidates: usize,
        columns: Vec<String>,
    },
    #[error("{path}: column {column:?} is {found}; embeddings must be list<float32|float16|float64>, large_list<…> or fixed_size_list<…>")]
    WrongType {
        path: String,
        column: String,
        found: String,
    },
    #[error("{path}: no rows")]
    Empty { path: String },
    #[error("{at}: the vector is empty; embeddings need a dimension of at least 1")]
    ZeroDim { at: RowAt },
    #[error("{at}: the vector has {found} values, expected {expected} (the dimension of row 0)")]
    Width {
        at: RowAt,
        expected: usize,
        found: usize,
    },
    #[error("{at}: the vector is null")]
    NullVector { at: RowAt },
    #[error("{at}: element {index} of the vector is null")]
    NullElement { at: RowAt, index: usize },
    #[error("{at}: element {index} is {value}: embeddings must be finite numbers{}", if value.is_finite() { " (it does not fit float32)" } else { "" })]
    NonFinite { at: RowAt, index: usize, value: f64 },
    #[error("{path}: its metadata says {expected} rows but {found} were read (did the file change while it was read?)")]
    RowCount {
        path: String,
        expected: usize,
        found: usize,
    },
}
