//! BERT's WordPiece tokenisation, by Hugging Face's own `tokenizers` crate reading the model's
//! `tokenizer.json`, so token ids equal those of the Python pipeline that trained the model:
//! normaliser (lower-casing, accent stripping, CJK spacing, control characters), pre-tokeniser,
//! WordPiece and the `[CLS] … [SEP]` template all come from the file.

use super::error::TextModelError;
use tokenizers::models::ModelWrapper;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// A WordPiece tokenizer that truncates at the model's maximum length and never pads (the
/// encoder packs sequences of different lengths itself).
#[derive(Clone)]
pub struct WordPieceTokenizer {
    inner: Tokenizer,
    max_len: usize,
}

impl std::fmt::Debug for WordPieceTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordPieceTokenizer")
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl WordPieceTokenizer {
    /// Reads `tokenizer.json` text. `file` names it in errors; `max_len` counts `[CLS]` and
    /// `[SEP]`; `vocab_size` is the model's embedding rows, which every id must index.
    pub fn from_json(
        json: &str,
        file: &str,
        max_len: usize,
        vocab_size: usize,
    ) -> Result<Self, TextModelError> {
        let mut inner: Tokenizer = json.parse().map_err(|e| TextModelError::Tokenizer {
            file: file.into(),
            reason: format!("not a usable tokenizer.json: {e}"),
        })?;
        let found = match inner.get_model() {
            ModelWrapper::WordPiece(_) => None,
            ModelWrapper::BPE(_) => Some("BPE"),
            ModelWrapper::Unigram(_) => Some("Unigram"),
            ModelWrapper::WordLevel(_) => Some("WordLevel"),
        };
        if let Some(found) = found {
            return Err(TextModelError::NotWordPiece {
                file: file.into(),
                found: found.into(),
            });
        }
        let largest = inner.get_vocab(true).into_values().max().unwrap_or(0) as usize;
        if largest >= vocab_size {
            return Err(TextModelError::Tokenizer {
                file: file.into(),
                reason: format!(
                    "token id {largest} is past the model's {vocab_size} embedding rows (config.json vocab_size)"
                ),
            });
        }
        if max_len < 2 {
            return Err(TextModelError::Tokenizer {
                file: file.into(),
                reason: format!(
                    "a maximum length of {max_len} tokens leaves no room for [CLS] and [SEP]"
                ),
            });
        }
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| TextModelError::Tokenizer {
                file: file.into(),
                reason: e.to_string(),
            })?;
        inner.with_padding(None);
        Ok(Self { inner, max_len })
    }

    /// The token ids of `text`, `[CLS]` and `[SEP]` included, at most [`Self::max_len`] of them.
    /// The BERT pipeline has no step that fails on a valid `&str`; a tokenizer.json with one
    /// gives its reason here, for the caller to name the row.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.inner
            .encode(text, true)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| e.to_string())
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The tokenizer's own JSON, for bundles.
    pub fn to_json(&self) -> String {
        // Truncation is the encoder's setting, not the file's: a bundle stores the file as read.
        let mut plain = self.inner.clone();
        plain
            .with_truncation(None)
            .expect("removing truncation cannot fail");
        plain
            .to_string(false)
            .expect("a tokenizer read from JSON serialises")
    }
}
