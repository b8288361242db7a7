//! Why a text model cannot be loaded or a text cannot be embedded: each error names the file,
//! the tensor or the row, and what was expected against what was found.

/// Why a sentence-encoder directory, bundle or input is not usable.
#[derive(Debug, thiserror::Error)]
pub enum TextModelError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: not valid JSON for a {what}: {reason}")]
    Json {
        file: String,
        what: &'static str,
        reason: String,
    },
    #[error("{file}: {found} is not supported: this encoder runs BERT models (model_type \"bert\": all-MiniLM, bge-small, e5-small, gte-small)")]
    Architecture { file: String, found: String },
    #[error("{file}: {field} is {found}; this encoder supports {expected}")]
    Unsupported {
        file: String,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "{file}: the tokenizer's model is {found}; this encoder needs WordPiece (BERT's tokenizer)"
    )]
    NotWordPiece { file: String, found: String },
    #[error("{file}: {reason}")]
    Tokenizer { file: String, reason: String },
    #[error("{file}: not a safetensors file: {reason}")]
    NotSafetensors { file: String, reason: String },
    #[error("{file}: tensor '{tensor}' is missing")]
    MissingTensor { file: String, tensor: String },
    #[error("{file}: tensor '{tensor}' has shape {found:?} but config.json needs {expected:?}")]
    Shape {
        file: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{file}: tensor '{tensor}' has dtype {found}; F32, F16 and BF16 are supported")]
    Dtype {
        file: String,
        tensor: String,
        found: String,
    },
    #[error("{file}: tensor '{tensor}' holds NaN or infinite values")]
    NonFinite { file: String, tensor: String },
    #[error("{file}: not an rqvae text bundle: {reason}")]
    NotBundle { file: String, reason: String },
    #[error("{source_name}: row {row}: {reason}")]
    Input {
        source_name: String,
        row: usize,
        reason: String,
    },
}
