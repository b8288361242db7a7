//! The prefix tree of a table's IDs, for constrained beam search: at each decoding step a
//! generative recommender may only emit a token that continues some item's ID, and once the ID is
//! complete it names exactly one item.
//!
//! ```text
//! {"format":"rqvae-prefix-tree","version":1,"model":"sha256:…","depth":4,"token_offset":0,
//! "next":{
//! "":[12,40],
//! "12":[456],
//! "12,456":[519,520],
//! "12,456,519":[768],
//! …
//! },
//! "items":{
//! "12,456,519,768":17,
//! …
//! }}
//! ```
//!
//! `next` maps the token ids generated so far (comma-joined, `""` before the first) to the token
//! ids allowed next, ascending; a prefix that is not a key allows nothing. `items` maps each full
//! ID to its item id as the table holds it. Token ids follow [`TokenLayout`]. One line per key,
//! in depth-first order.

use crate::ids::item_tokens::write_joined;
use crate::ids::table::IdTable;
use crate::ids::vocabulary::{ExportError, TokenLayout};
use std::io::Write;

pub const PREFIX_TREE_FORMAT: &str = "rqvae-prefix-tree";
pub const PREFIX_TREE_VERSION: u32 = 1;

/// The prefix tree as JSON.
pub fn prefix_tree_json(table: &IdTable, token_offset: u64) -> Result<String, ExportError> {
    let mut out = Vec::with_capacity(table.len() * 60 + 200);
    write_prefix_tree_json(table, token_offset, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// [`prefix_tree_json`] written as it is walked, for tables of millions of items. Memory beyond
/// the table is one position per item: the entries are sorted by their full ID once, so that a
/// prefix's items are one run of that order and its allowed next tokens the distinct codes in
/// the run, already ascending. The work is that sort and a binary search per key.
pub fn write_prefix_tree_json<W: Write>(
    table: &IdTable,
    token_offset: u64,
    mut out: W,
) -> Result<(), ExportError> {
    let layout = TokenLayout::new(table, token_offset)?;
    let depth = table.header().levels + 1;
    let mut order: Vec<u32> = (0..table.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| table.codes_at(a as usize).cmp(table.codes_at(b as usize)));
    write!(
        out,
        "{{\"format\":\"{PREFIX_TREE_FORMAT}\",\"version\":{PREFIX_TREE_VERSION},\"model\":{},\"depth\":{depth},\"token_offset\":{token_offset},\n\"next\":{{",
        serde_json::Value::from(table.header().model.as_str())
    )?;
    let mut walk = Walk {
        table,
        layout: &layout,
        depth,
        key: String::new(),
        first: true,
    };
    walk.node(&mut out, &order, 0)?;
    out.write_all(b"\n},\n\"items\":{")?;
    for (i, &p) in order.iter().enumerate() {
        out.write_all(if i == 0 { b"\n\"" } else { b",\n\"" })?;
        write_joined(&mut out, layout.token_ids(table.codes_at(p as usize)), b",")?;
        write!(out, "\":{}", table.entry(p as usize).id)?;
    }
    out.write_all(if order.is_empty() { b"}}\n" } else { b"\n}}\n" })?;
    Ok(())
}

/// The depth-first walk that writes `next`.
struct Walk<'a> {
    table: &'a IdTable,
    layout: &'a TokenLayout,
    depth: usize,
    /// The key of the prefix being written: its token ids, comma-joined.
    key: String,
    first: bool,
}

impl Walk<'_> {
    /// Writes the key of the prefix of length `level` shared by `run` (positions sorted by full
    /// ID), then the keys below it.
    fn node<W: Write>(&mut self, out: &mut W, run: &[u32], level: usize) -> std::io::Result<()> {
        out.write_all(if self.first { b"\n\"" } else { b",\n\"" })?;
        self.first = false;
        write!(out, "{}\":[", self.key)?;
        let (table, layout) = (self.table, self.layout);
        let ids = children(table, run, level).map(|(code, _)| layout.token_id(level, code));
        write_joined(out, ids, b",")?;
        out.write_all(b"]")?;
        if level + 1 == self.depth {
            return Ok(());
        }
        for (code, below) in children(table, run, level) {
            let len = self.key.len();
            if level > 0 {
                self.key.push(',');
            }
            self.key.push_str(&layout.token_id(level, code).to_string());
            self.node(out, below, level + 1)?;
            self.key.truncate(len);
        }
        Ok(())
    }
}

/// The distinct codes at `level` in `run`, ascending, each with the part of `run` that has it.
/// `run` shares its first `level` codes and is sorted by full ID, so each code's part is
/// contiguous and its end a binary search away.
fn children<'r>(
    table: &'r IdTable,
    run: &'r [u32],
    level: usize,
) -> impl Iterator<Item = (u32, &'r [u32])> + 'r {
    let code = move |p: u32| table.codes_at(p as usize)[level];
    let mut rest = run;
    std::iter::from_fn(move || {
        let &first = rest.first()?;
        let c = code(first);
        let (part, after) = rest.split_at(rest.partition_point(|&p| code(p) == c));
        rest = after;
        Some((c, part))
    })
}
