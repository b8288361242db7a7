//! The token space of a table's IDs, as a generative recommender with a single vocabulary needs
//! it: every (level, code) one token id, and the vocabulary file that lists them.
//!
//! Level `l`'s code `c` is token id `token_offset + l × codebook_size + c`; the disambiguation
//! level follows the model's levels, sized by the largest disambiguation code the table uses. A
//! `token_offset` other than 0 puts the IDs after a language model's own vocabulary, so the same
//! ids serve its embedding table and its output layer.
//!
//! ```text
//! {"format":"rqvae-vocabulary","version":1,"model":"sha256:…","codebook_size":256,
//!  "token_offset":0,"size":770,
//!  "levels":[{"letter":"a","offset":0,"size":256},…,{"letter":"d","offset":768,"size":2}],
//!  "tokens":["<a_0>","<a_1>",…,"<d_1>"]}
//! ```
//!
//! `offset`s count from `token_offset`, as `tokens` does: `tokens[offset + c]` is the string of
//! token id `token_offset + offset + c`.

use crate::ids::table::{token, token_letter, IdTable};
use serde::{Deserialize, Serialize};
use std::io::Write;

pub const VOCABULARY_FORMAT: &str = "rqvae-vocabulary";
pub const VOCABULARY_VERSION: u32 = 1;

/// The largest token id an export writes: 2⁵³ − 1, the largest integer that JSON readers in
/// JavaScript (a browser reading a prefix tree) hold exactly.
pub const MAX_TOKEN_ID: u64 = (1 << 53) - 1;

/// Why a table's tokens cannot be exported as asked, or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("token offset {token_offset} puts the last of the {size} token ids at {last}, past 2^53 − 1 = {MAX_TOKEN_ID}, the largest integer JSON readers in JavaScript hold exactly; give a smaller token offset")]
    TokenIdRange {
        token_offset: u64,
        size: u64,
        last: u128,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One level's block of token ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelTokens {
    /// `a` for level 0, …; the disambiguation level's is the letter after the last level's.
    pub letter: String,
    /// The block's first token id, counted from `token_offset`.
    pub offset: u64,
    pub size: u64,
}

/// Where each level's tokens sit among the token ids, for one table and token offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLayout {
    token_offset: u64,
    codebook_size: u64,
    /// The model's levels, then the disambiguation level.
    levels: Vec<LevelTokens>,
}

impl TokenLayout {
    /// The layout of `table`'s IDs from `token_offset` on. Fails when a token id would pass
    /// [`MAX_TOKEN_ID`].
    pub fn new(table: &IdTable, token_offset: u64) -> Result<Self, ExportError> {
        let header = table.header();
        let codebook_size = header.codebook_size as u64;
        // Every item has a disambiguation code, so the level is never empty: an empty table
        // still has `<d_0>`, which its first item will take.
        let suffixes = (0..table.len())
            .map(|p| u64::from(table.codes_at(p)[header.levels]) + 1)
            .max()
            .unwrap_or(1);
        let mut levels: Vec<LevelTokens> = (0..header.levels)
            .map(|l| LevelTokens {
                letter: token_letter(l).to_string(),
                offset: l as u64 * codebook_size,
                size: codebook_size,
            })
            .collect();
        levels.push(LevelTokens {
            letter: token_letter(header.levels).to_string(),
            offset: header.levels as u64 * codebook_size,
            size: suffixes,
        });
        let layout = Self {
            token_offset,
            codebook_size,
            levels,
        };
        let last = u128::from(token_offset) + u128::from(layout.size()) - 1;
        if last > u128::from(MAX_TOKEN_ID) {
            return Err(ExportError::TokenIdRange {
                token_offset,
                size: layout.size(),
                last,
            });
        }
        Ok(layout)
    }

    pub fn token_offset(&self) -> u64 {
        self.token_offset
    }

    pub fn codebook_size(&self) -> u64 {
        self.codebook_size
    }

    /// Tokens in all: the model's levels' and the disambiguation level's.
    pub fn size(&self) -> u64 {
        let last = self.levels.last().expect("the disambiguation level");
        last.offset + last.size
    }

    /// The model's levels, then the disambiguation level.
    pub fn levels(&self) -> &[LevelTokens] {
        &self.levels
    }

    /// The token id of `code` at `level` (the disambiguation level is `levels`).
    pub fn token_id(&self, level: usize, code: u32) -> u64 {
        self.token_offset + self.levels[level].offset + u64::from(code)
    }

    /// The token ids of a full ID (`levels` codes, then the disambiguation code).
    pub fn token_ids<'a>(&'a self, codes: &'a [u32]) -> impl Iterator<Item = u64> + 'a {
        codes
            .iter()
            .enumerate()
            .map(|(level, &code)| self.token_id(level, code))
    }
}

/// The vocabulary file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    pub format: String,
    pub version: u32,
    /// The fingerprint of the model that made the table.
    pub model: String,
    pub codebook_size: u64,
    pub token_offset: u64,
    pub size: u64,
    pub levels: Vec<LevelTokens>,
    /// `tokens[i]` is the string of token id `token_offset + i`.
    pub tokens: Vec<String>,
}

/// The vocabulary of `table`'s IDs from `token_offset` on.
pub fn vocabulary(table: &IdTable, token_offset: u64) -> Result<Vocabulary, ExportError> {
    let layout = TokenLayout::new(table, token_offset)?;
    let mut tokens = Vec::with_capacity(layout.size() as usize);
    for (l, level) in layout.levels().iter().enumerate() {
        tokens.extend((0..level.size as u32).map(|c| token(l, c)));
    }
    Ok(Vocabulary {
        format: VOCABULARY_FORMAT.into(),
        version: VOCABULARY_VERSION,
        model: table.header().model.clone(),
        codebook_size: layout.codebook_size(),
        token_offset,
        size: layout.size(),
        levels: layout.levels().to_vec(),
        tokens,
    })
}

/// [`vocabulary`] as JSON: the sizes on the first line, `levels` on the second, `tokens` on the
/// third, so that the file reads without a JSON viewer.
pub fn vocabulary_json(table: &IdTable, token_offset: u64) -> Result<String, ExportError> {
    let mut out = Vec::new();
    write_vocabulary_json(table, token_offset, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

pub fn write_vocabulary_json<W: Write>(
    table: &IdTable,
    token_offset: u64,
    mut out: W,
) -> Result<(), ExportError> {
    let v = vocabulary(table, token_offset)?;
    writeln!(
        out,
        "{{\"format\":{},\"version\":{},\"model\":{},\"codebook_size\":{},\"token_offset\":{},\"size\":{},",
        json(&v.format),
        v.version,
        json(&v.model),
        v.codebook_size,
        v.token_offset,
        v.size
    )?;
    writeln!(out, "\"levels\":{},", json(&v.levels))?;
    writeln!(out, "\"tokens\":{}}}", json(&v.tokens))?;
    Ok(())
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and numbers serialise")
}

impl From<ExportError> for std::io::Error {
    /// For writers that report `io::Error`s (the CLI's atomic files); the layout is normally
    /// checked before writing starts, so what arrives here is the write's own error.
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}
