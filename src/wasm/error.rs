//! Errors as JavaScript sees them (features `wasm` and `wasm-text`): an `Error` whose `code` property says what
//! went wrong in a word that stays the same across releases, beside a message for people. The
//! package wraps it in its `RqvaeError` class; programs branch on the code, never the message.

use crate::embeddings::EmbeddingsError;
use crate::ids::labels::LabelsError;
use crate::ids::table::TableError;
use crate::ids::vocabulary::ExportError;
use crate::npy::NpyError;
use crate::weights::WeightsError;
use wasm_bindgen::JsValue;

/// A failure with its stable code; thrown into JavaScript as an `Error` with `code` set.
pub struct ApiError {
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            code,
            message: message.to_string(),
        }
    }
}

impl From<ApiError> for JsValue {
    fn from(e: ApiError) -> JsValue {
        let error = js_sys::Error::new(&e.message);
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&error, &"code".into(), &e.code.into());
        error.into()
    }
}

impl From<EmbeddingsError> for ApiError {
    fn from(e: EmbeddingsError) -> Self {
        let code = match e {
            EmbeddingsError::DimMismatch { .. } => "ERR_DIMENSION",
            EmbeddingsError::NonFinite { .. } => "ERR_NON_FINITE",
            _ => "ERR_INPUT",
        };
        Self::new(code, e)
    }
}

impl From<NpyError> for ApiError {
    fn from(e: NpyError) -> Self {
        let code = match e {
            NpyError::Embeddings(EmbeddingsError::NonFinite { .. }) => "ERR_NON_FINITE",
            NpyError::TooLarge(_) => "ERR_TOO_LARGE",
            _ => "ERR_NPY",
        };
        Self::new(code, e)
    }
}

impl From<WeightsError> for ApiError {
    fn from(e: WeightsError) -> Self {
        let code = match e {
            WeightsError::NoDecoder => "ERR_NO_DECODER",
            _ => "ERR_WEIGHTS",
        };
        Self::new(code, format!("weights: {e}"))
    }
}

impl From<TableError> for ApiError {
    fn from(e: TableError) -> Self {
        let code = match e {
            TableError::ModelMismatch { .. } | TableError::ConfigMismatch { .. } => {
                "ERR_MODEL_MISMATCH"
            }
            TableError::IdCount { .. }
            | TableError::DuplicateInputId { .. }
            | TableError::RowNumberTaken { .. } => "ERR_IDS",
            TableError::Dim { .. } => "ERR_DIMENSION",
            TableError::ResolutionMismatch { .. } => "ERR_OPTION",
            _ => "ERR_TABLE",
        };
        Self::new(code, e)
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        let code = match e {
            ExportError::TokenIdRange { .. } => "ERR_OPTION",
            // Writing into memory does not fail; were it to, it would be a bug.
            ExportError::Io(_) => "ERR_INTERNAL",
        };
        Self::new(code, e)
    }
}

impl From<LabelsError> for ApiError {
    fn from(e: LabelsError) -> Self {
        let code = match e {
            LabelsError::Fingerprint { .. } => "ERR_MODEL_MISMATCH",
            _ => "ERR_LABELS",
        };
        Self::new(code, e)
    }
}

#[cfg(feature = "text")]
impl From<crate::text::TextModelError> for ApiError {
    fn from(e: crate::text::TextModelError) -> Self {
        let code = match e {
            crate::text::TextModelError::Input { .. } => "ERR_INPUT",
            _ => "ERR_TEXT_MODEL",
        };
        Self::new(code, e)
    }
}
