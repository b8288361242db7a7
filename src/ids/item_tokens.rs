//! Every item's ID as the token strings and token ids a generative recommender trains on, as JSON
//! Lines and as CSV, in table order; the ids follow [`TokenLayout`].
//!
//! ```text
//! {"id":17,"tokens":"<a_12><b_200><c_7><d_0>","token_ids":[12,456,519,768]}
//! ```
//!
//! ```text
//! item_id,tokens,token_ids
//! 17,<a_12><b_200><c_7><d_0>,12 456 519 768
//! ```

use crate::ids::table::{csv_field, IdTable};
use crate::ids::vocabulary::{ExportError, TokenLayout};
use std::io::Write;

/// The items' tokens as JSON Lines, one item a line.
pub fn tokens_jsonl(table: &IdTable, token_offset: u64) -> Result<String, ExportError> {
    let mut out = Vec::with_capacity(table.len() * 80);
    write_tokens_jsonl(table, token_offset, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// [`tokens_jsonl`] written line by line, so that a large table is never also held as text.
pub fn write_tokens_jsonl<W: Write>(
    table: &IdTable,
    token_offset: u64,
    mut out: W,
) -> Result<(), ExportError> {
    let layout = TokenLayout::new(table, token_offset)?;
    for e in table.entries() {
        write!(
            out,
            "{{\"id\":{},\"tokens\":\"{}\",\"token_ids\":[",
            e.id,
            e.tokens()
        )?;
        write_joined(&mut out, layout.token_ids(e.codes), b",")?;
        out.write_all(b"]}\n")?;
    }
    Ok(())
}

/// The items' tokens as CSV: `item_id,tokens,token_ids`, the token ids separated by spaces (ids
/// quoted as in the table's own CSV).
pub fn tokens_csv(table: &IdTable, token_offset: u64) -> Result<String, ExportError> {
    let mut out = Vec::with_capacity(table.len() * 60);
    write_tokens_csv(table, token_offset, &mut out)?;
    Ok(String::from_utf8(out).expect("CSV of UTF-8 ids is UTF-8"))
}

pub fn write_tokens_csv<W: Write>(
    table: &IdTable,
    token_offset: u64,
    mut out: W,
) -> Result<(), ExportError> {
    let layout = TokenLayout::new(table, token_offset)?;
    out.write_all(b"item_id,tokens,token_ids\n")?;
    for e in table.entries() {
        write!(out, "{},{},", csv_field(&e.id), e.tokens())?;
        write_joined(&mut out, layout.token_ids(e.codes), b" ")?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `ids` written with `separator` between them.
pub(crate) fn write_joined<W: Write>(
    out: &mut W,
    ids: impl Iterator<Item = u64>,
    separator: &[u8],
) -> std::io::Result<()> {
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.write_all(separator)?;
        }
        write!(out, "{id}")?;
    }
    Ok(())
}
