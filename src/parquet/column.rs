//! Which column of a Parquet file holds the vectors, and the Arrow types read as vectors:
//! `list`, `large_list` or `fixed_size_list` of `float32`, `float16` or `float64`.

use super::error::ParquetError;
use arrow_schema::{DataType, Schema};
use std::path::Path;

/// The column read when none is named.
pub const DEFAULT_COLUMN: &str = "embedding";

/// How a column's vectors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    List,
    LargeList,
    /// Every vector has this many values, by the type.
    FixedSizeList(usize),
}

/// The vectors' element type (widened or narrowed to f32 when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatKind {
    F16,
    F32,
    F64,
}

/// The column chosen in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorColumn {
    pub name: String,
    /// Its position among the schema's top-level fields.
    pub index: usize,
    pub list: ListKind,
    pub float: FloatKind,
}

/// The list and element kinds of a vector column's type, or `None` for any other type.
pub fn vector_type(data_type: &DataType) -> Option<(ListKind, FloatKind)> {
    let (list, element) = match data_type {
        DataType::List(f) => (ListKind::List, f.data_type()),
        DataType::LargeList(f) => (ListKind::LargeList, f.data_type()),
        DataType::FixedSizeList(f, n) => (
            ListKind::FixedSizeList(usize::try_from(*n).ok()?),
            f.data_type(),
        ),
        _ => return None,
    };
    let float = match element {
        DataType::Float16 => FloatKind::F16,
        DataType::Float32 => FloatKind::F32,
        DataType::Float64 => FloatKind::F64,
        _ => return None,
    };
    Some((list, float))
}

/// A type as the messages name it: `list<float32>`, `fixed_size_list<float16>[768]`, `utf8`.
pub fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::LargeList(f) => format!("large_list<{}>", type_name(f.data_type())),
        DataType::FixedSizeList(f, n) => {
            format!("fixed_size_list<{}>[{n}]", type_name(f.data_type()))
        }
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// `name (type)` of every column, for messages that list them.
pub fn column_list(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} ({})", f.name(), type_name(f.data_type())))
        .collect()
}

/// The vector column of a file: `requested` if given; else `embedding`; else the one
/// list-of-float column, if there is exactly one.
pub fn choose(
    schema: &Schema,
    requested: Option<&str>,
    path: &Path,
) -> Result<VectorColumn, ParquetError> {
    let path_text = || path.display().to_string();
    let name = match requested {
        Some(name) => name.to_string(),
        None if schema.index_of(DEFAULT_COLUMN).is_ok() => DEFAULT_COLUMN.to_string(),
        None => {
            let candidates: Vec<&str> = schema
                .fields()
                .iter()
                .filter(|f| vector_type(f.data_type()).is_some())
                .map(|f| f.name().as_str())
                .collect();
            match candidates.as_slice() {
                [one] => one.to_string(),
                _ => {
                    return Err(ParquetError::AmbiguousColumn {
                        path: path_text(),
                        candidates: candidates.len(),
                        columns: column_list(schema),
                    })
                }
            }
        }
    };
    let index = schema
        .index_of(&name)
        .map_err(|_| ParquetError::MissingColumn {
            path: path_text(),
            column: name.clone(),
            columns: column_list(schema),
        })?;
    let data_type = schema.field(index).data_type();
    let (list, float) = vector_type(data_type).ok_or_else(|| ParquetError::WrongType {
        path: path_text(),
        column: name.clone(),
        found: type_name(data_type),
    })?;
    Ok(VectorColumn {
        name,
        index,
        list,
        float,
    })
}
