//! The ID table: which item has which semantic ID, in a versioned JSON Lines file.
//!
//! One line per item, in the order items were assigned:
//!
//! ```text
//! {"id":0,"codes":[12,7,201,0],"tokens":"<a_12><b_7><c_201><d_0>","table":{"format":"rqvae-id-table","version":1,"model":"sha256:…","levels":3,"codebook_size":256,"resolution":"reassign"}}
//! {"id":1,"codes":[12,7,44,0],"tokens":"<a_12><b_7><c_44><d_0>","reassigned_from":201}
//! ```
//!
//! - `id`: the item's id, an integer or a string, unique in the table.
//! - `codes`: one code per level, then the disambiguation code (0 for the first item of a
//!   tuple, 1, 2, … for later ones). The whole list is unique in the table.
//! - `tokens`: the same codes as generative-recommender tokens, `<a_…>` for level 0 onwards.
//! - `reassigned_from`: present when collision resolution moved the item off its nearest
//!   last-level code; the value is that nearest code (so the model's own codes are known).
//! - `table`: on exactly one line (the writer puts it on the first): the format name and
//!   version, the fingerprint of the model that made the table ([`crate::fingerprint`]), its
//!   levels and codebook size, and the collision policy (`reassign` or `suffix`).
//!
//! Loading checks the header, every line's fields and shapes, duplicate ids and duplicate IDs,
//! and names the line of whatever is wrong.

use crate::ids::item_ids::ItemIds;
use hashbrown::hash_table::{self, HashTable};
use hashbrown::DefaultHashBuilder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::io::{BufRead, Write};

pub const TABLE_FORMAT: &str = "rqvae-id-table";
pub const TABLE_VERSION: u32 = 1;

/// Letters of the token prefixes: a level-0 code is `<a_…>`, the disambiguation code of a
/// 3-level model `<d_…>`.
const TOKEN_LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// An item's id as its catalog gives it: a JSON integer or string (`1` and `"1"` differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemId {
    Int(i64),
    Str(String),
}

impl ItemId {
    /// Reads an id from JSON: an integer or a string, nothing else.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(Self::Str(s.clone())),
            Value::Number(n) => n.as_i64().map(Self::Int).ok_or_else(|| {
                format!("id {n} is not an integer in the 64-bit range; give it as a string")
            }),
            other => Err(format!(
                "id must be an integer or a string, found {}",
                json_kind(other)
            )),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Str(s) => Value::from(s.as_str()),
        }
    }
}

impl fmt::Display for ItemId {
    /// As in the files: `17`, `"B00X"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What happens to an item whose (A, B, C) is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Move it to its next-best free last-level code under the same (A, B), by the model's own
    /// scores; a disambiguation code above 0 only when every last-level code is taken.
    Reassign,
    /// Keep its nearest codes and number it with the disambiguation code (TIGER-style).
    Suffix,
}

/// What the `table` field holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableHeader {
    pub format: String,
    pub version: u32,
    /// [`crate::ids::fingerprint::model_fingerprint`] of the model that made the table.
    pub model: String,
    pub levels: usize,
    pub codebook_size: usize,
    pub resolution: Resolution,
}

/// One item's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub id: ItemId,
    /// `levels` codes, then the disambiguation code.
    pub codes: Vec<u32>,
    /// The nearest last-level code, when resolution moved the item off it.
    pub reassigned_from: Option<u32>,
}

impl TableEntry {
    /// The entry as the table's view of it.
    fn view(&self) -> Entry<'_> {
        Entry {
            id: self.id.clone(),
            codes: &self.codes,
            reassigned_from: self.reassigned_from,
        }
    }

    /// The semantic codes without the disambiguation code.
    pub fn tuple(&self) -> &[u32] {
        &self.codes[..self.codes.len() - 1]
    }

    pub fn suffix(&self) -> u32 {
        self.view().suffix()
    }

    /// The model's nearest codes for the item when it was assigned.
    pub fn nearest(&self) -> Vec<u32> {
        self.view().nearest()
    }

    /// `<a_12><b_7><c_201><d_0>`.
    pub fn tokens(&self) -> String {
        tokens(&self.codes)
    }
}

/// The letter of level `level`'s tokens: `a` for level 0, and for the disambiguation code the
/// letter after the last level's. At most 26 letters: a table has at most 25 levels.
pub fn token_letter(level: usize) -> char {
    TOKEN_LETTERS[level] as char
}

/// The tokens of a full ID.
pub fn tokens(codes: &[u32]) -> String {
    token_list(codes).concat()
}

/// The token of `code` at `level`: `<a_12>`.
pub fn token(level: usize, code: u32) -> String {
    format!("<{}_{code}>", token_letter(level))
}

/// The tokens of a full ID, one string each (LC-Rec's index format).
fn token_list(codes: &[u32]) -> Vec<String> {
    codes
        .iter()
        .enumerate()
        .map(|(l, &c)| token(l, c))
        .collect()
}

/// Why a table (or an items file, or a request on a table) is not usable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("line {line}: not valid JSON: {message}")]
    Json { line: usize, message: String },
    #[error("line {line}: {message}")]
    Field { line: usize, message: String },
    #[error("no line holds the table header (a \"table\" object with format, version and model); is this an rqvae ID table?")]
    NoHeader,
    #[error("lines {first} and {second} both hold a table header; a table has one")]
    TwoHeaders { first: usize, second: usize },
    #[error("line {line}: table format is {found:?}, expected {TABLE_FORMAT:?}")]
    Format { line: usize, found: String },
    #[error("line {line}: table format version {found} is not supported (this build reads version {TABLE_VERSION})")]
    Version { line: usize, found: u32 },
    #[error("line {line}: {found} codes, expected {expected} ({levels} levels and the disambiguation code)", levels = expected - 1)]
    Shape {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error(
        "line {line}: code {code} at level {level} is outside the codebook (size {codebook_size})"
    )]
    CodeRange {
        line: usize,
        level: usize,
        code: u32,
        codebook_size: usize,
    },
    #[error("line {line}: tokens {found:?} do not match codes {codes:?} (expected {expected:?})")]
    Tokens {
        line: usize,
        codes: Vec<u32>,
        expected: String,
        found: String,
    },
    #[error("id {id} appears twice: lines {first} and {second}")]
    DuplicateId {
        id: String,
        first: usize,
        second: usize,
    },
    #[error("ID {codes:?} is given to two items: lines {first} and {second}")]
    DuplicateCodes {
        codes: Vec<u32>,
        first: usize,
        second: usize,
    },
    #[error("the table was made by model {table}, but this model is {model}: a table only grows with the model that made it (re-assign every item with the new model, and compare the two tables' churn)")]
    ModelMismatch { table: String, model: String },
    #[error("the table has {table_levels} levels and codebooks of {table_codebook}, the model {model_levels} and {model_codebook}")]
    ConfigMismatch {
        table_levels: usize,
        table_codebook: usize,
        model_levels: usize,
        model_codebook: usize,
    },
    #[error("a prefix group to resolve: {message}")]
    Group { message: String },
    #[error("{levels} levels need {needed} token letters; at most {max} levels are supported", needed = levels.saturating_add(1), max = TOKEN_LETTERS.len() - 1)]
    TooManyLevels { levels: usize },
    #[error("{ids} ids for {rows} embedding rows: give one id per row")]
    IdCount { ids: usize, rows: usize },
    #[error("id {id} is given to rows {first} and {second}; ids must be unique")]
    DuplicateInputId {
        id: String,
        first: usize,
        second: usize,
    },
    #[error("without ids, new rows are numbered from {first} (the table's size), but id {id} is already in the table; give the new items' ids")]
    RowNumberTaken { first: usize, id: String },
    #[error("rows have dimension {found} but the model expects {expected}")]
    Dim { expected: usize, found: usize },
    #[error("the table was made with {table:?} resolution, not {requested:?}; it keeps its policy as it grows")]
    ResolutionMismatch {
        table: Resolution,
        requested: Resolution,
    },
}

/// One item's line, borrowed from an [`IdTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Held as a column of integers where it can be, so given by value.
    pub id: ItemId,
    /// `levels` codes, then the disambiguation code.
    pub codes: &'a [u32],
    /// The nearest last-level code, when resolution moved the item off it.
    pub reassigned_from: Option<u32>,
}

impl Entry<'_> {
    /// The semantic codes without the disambiguation code.
    pub fn tuple(&self) -> &[u32] {
        &self.codes[..self.codes.len() - 1]
    }

    pub fn suffix(&self) -> u32 {
        self.codes[self.codes.len() - 1]
    }

    /// The model's nearest codes for the item when it was assigned.
    pub fn nearest(&self) -> Vec<u32> {
        let mut t = self.tuple().to_vec();
        if let (Some(c), Some(last)) = (self.reassigned_from, t.last_mut()) {
            *last = c;
        }
        t
    }

    /// `<a_12><b_7><c_201><d_0>`.
    pub fn tokens(&self) -> String {
        tokens(self.codes)
    }

    pub fn to_owned(&self) -> TableEntry {
        TableEntry {
            id: self.id.clone(),
            codes: self.codes.to_vec(),
            reassigned_from: self.reassigned_from,
        }
    }
}

/// `reassigned_from` of an item that was not moved.
const NOT_MOVED: u32 = u32::MAX;

/// A table of IDs: entries in assignment order, indexed by id and by semantic tuple.
///
/// Catalogs reach 10⁸ items, so the table is held in columns (ids, codes, moved-from codes)
/// and its two indexes hold only positions into them: what one item costs is its id, its
/// codes and a few bytes of index, not a line's worth of small allocations.
#[derive(Clone)]
pub struct IdTable {
    header: TableHeader,
    ids: ItemIds,
    /// `levels + 1` codes per entry.
    codes: Vec<u32>,
    moved_from: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// Positions, found by their id.
    by_id: HashTable<u32>,
    /// For every semantic tuple in use, the position of its item with the highest
    /// disambiguation code: the next item of the tuple gets one above it.
    by_tuple: HashTable<u32>,
    /// Positions released for re-assignment and not yet given new codes: their stale codes are
    /// in no index.
    released: HashSet<u32>,
}

impl fmt::Debug for IdTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTable")
            .field("header", &self.header)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for IdTable {
    /// The same header and the same lines in the same order (the indexes follow from them).
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
            && self.ids == other.ids
            && self.codes == other.codes
            && self.moved_from == other.moved_from
    }
}

impl IdTable {
    /// An empty table for the model with `fingerprint`.
    pub fn new(
        fingerprint: &str,
        levels: usize,
        codebook_size: usize,
        resolution: Resolution,
    ) -> Result<Self, TableError> {
        if levels >= TOKEN_LETTERS.len() {
            return Err(TableError::TooManyLevels { levels });
        }
        Ok(Self {
            header: TableHeader {
                format: TABLE_FORMAT.into(),
                version: TABLE_VERSION,
                model: fingerprint.into(),
                levels,
                codebook_size,
                resolution,
            },
            ids: ItemIds::new(),
            codes: Vec::new(),
            moved_from: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            by_id: HashTable::new(),
            by_tuple: HashTable::new(),
            released: HashSet::new(),
        })
    }

    pub fn header(&self) -> &TableHeader {
        &self.header
    }

    /// Every entry, in table order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry<'_>> + '_ {
        (0..self.len()).map(|i| self.entry(i))
    }

    /// The codes of the entry at `position` (table order), without building its id as
    /// [`Self::entry`] does: what sorting a large table by its IDs needs.
    pub fn codes_at(&self, position: usize) -> &[u32] {
        let stride = self.header.levels + 1;
        &self.codes[position * stride..(position + 1) * stride]
    }

    /// The entry at `position` (table order).
    pub fn entry(&self, position: usize) -> Entry<'_> {
        let stride = self.header.levels + 1;
        let moved = self.moved_from[position];
        Entry {
            id: self.ids.get(position),
            codes: &self.codes[position * stride..(position + 1) * stride],
            reassigned_from: (moved != NOT_MOVED).then_some(moved),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Room for `additional` more entries, so that a large assignment allocates once.
    pub fn reserve(&mut self, additional: usize) {
        let stride = self.header.levels + 1;
        self.ids.reserve_exact(additional);
        self.codes.reserve_exact(additional * stride);
        self.moved_from.reserve_exact(additional);
        let (hasher, ids, codes) = (&self.hasher, &self.ids, &self.codes);
        self.by_id
            .reserve(additional, |&p| ids.hash_at(p as usize, hasher));
        self.by_tuple.reserve(additional, |&p| {
            hasher.hash_one(tuple_at(codes, stride, p as usize))
        });
    }

    /// The entry of `id`, if the table has it.
    pub fn get(&self, id: &ItemId) -> Option<Entry<'_>> {
        self.position(id).map(|i| self.entry(i))
    }

    /// Position of `id` in [`Self::entries`].
    pub fn position(&self, id: &ItemId) -> Option<usize> {
        let ids = &self.ids;
        self.by_id
            .find(self.hasher.hash_one(id), |&p| ids.eq_at(p as usize, id))
            .map(|&p| p as usize)
    }

    /// The position of the item of `tuple` with the highest disambiguation code in use.
    fn tuple_holder(&self, tuple: &[u32]) -> Option<usize> {
        let stride = self.header.levels + 1;
        let codes = &self.codes;
        self.by_tuple
            .find(self.hasher.hash_one(tuple), |&p| {
                tuple_at(codes, stride, p as usize) == tuple
            })
            .map(|&p| p as usize)
    }

    /// Whether an item already holds the semantic tuple.
    pub fn tuple_taken(&self, tuple: &[u32]) -> bool {
        self.tuple_holder(tuple).is_some()
    }

    /// The disambiguation code the next item with `tuple` gets: one above the highest in use,
    /// so a suffix is never shared, even after items left the tuple.
    pub fn next_suffix(&self, tuple: &[u32]) -> u32 {
        self.tuple_holder(tuple)
            .map_or(0, |p| self.entry(p).suffix() + 1)
    }

    /// Appends an entry. The caller guarantees a new id and a free full ID.
    pub(crate) fn push(&mut self, entry: TableEntry) {
        let position = self.len();
        assert!(
            position < u32::MAX as usize,
            "an ID table holds fewer than 2³² items"
        );
        self.ids.push(entry.id);
        self.codes.extend_from_slice(&entry.codes);
        self.moved_from
            .push(entry.reassigned_from.unwrap_or(NOT_MOVED));
        let (hasher, ids) = (&self.hasher, &self.ids);
        self.by_id
            .insert_unique(ids.hash_at(position, hasher), position as u32, |&p| {
                ids.hash_at(p as usize, hasher)
            });
        self.claim(position);
    }

    /// Gives the entry at `index` new codes; it must have been [`Self::release`]d.
    pub(crate) fn replace(&mut self, index: usize, codes: Vec<u32>, reassigned_from: Option<u32>) {
        assert!(
            self.released.remove(&(index as u32)),
            "replace after release"
        );
        let stride = self.header.levels + 1;
        self.codes[index * stride..(index + 1) * stride].copy_from_slice(&codes);
        self.moved_from[index] = reassigned_from.unwrap_or(NOT_MOVED);
        self.claim(index);
    }

    /// Releases the full IDs of the entries at `positions` (they are about to be re-assigned):
    /// their tuples' next disambiguation codes are counted without them.
    pub(crate) fn release(&mut self, positions: &[usize]) {
        if positions.is_empty() {
            return;
        }
        self.released.extend(positions.iter().map(|&p| p as u32));
        self.by_tuple.clear();
        for p in 0..self.len() {
            if !self.released.contains(&(p as u32)) {
                self.claim(p);
            }
        }
    }

    /// Makes the entry at `position` its tuple's holder, if its disambiguation code is the
    /// highest of the tuple.
    fn claim(&mut self, position: usize) {
        let stride = self.header.levels + 1;
        let (hasher, codes) = (&self.hasher, &self.codes);
        let tuple = tuple_at(codes, stride, position);
        let suffix = codes[(position + 1) * stride - 1];
        match self.by_tuple.entry(
            hasher.hash_one(tuple),
            |&p| tuple_at(codes, stride, p as usize) == tuple,
            |&p| hasher.hash_one(tuple_at(codes, stride, p as usize)),
        ) {
            hash_table::Entry::Occupied(mut held) => {
                if codes[(*held.get() as usize + 1) * stride - 1] < suffix {
                    *held.get_mut() = position as u32;
                }
            }
            hash_table::Entry::Vacant(free) => {
                free.insert(position as u32);
            }
        }
    }

    /// Ids for `rows` new rows given without ids: their row numbers, counted on from the
    /// table's size (a catalog's new rows follow its old ones). Refused if one is already an id
    /// in the table, since that row would silently be taken for the existing item.
    pub fn row_number_ids(&self, rows: usize) -> Result<Vec<ItemId>, TableError> {
        Ok(self.row_numbers(rows)?.iter().collect())
    }

    /// [`Self::row_number_ids`] as a column: 8 bytes an id.
    pub fn row_numbers(&self, rows: usize) -> Result<ItemIds, TableError> {
        let first = self.len();
        let ids = ItemIds::row_numbers(first, rows);
        let taken = ids.iter().find(|id| self.position(id).is_some());
        match taken {
            Some(id) => Err(TableError::RowNumberTaken {
                first,
                id: id.to_string(),
            }),
            None => Ok(ids),
        }
    }

    /// Fails unless `fingerprint`, `levels` and `codebook_size` are those of the table's model.
    pub fn check_model(
        &self,
        fingerprint: &str,
        levels: usize,
        codebook_size: usize,
    ) -> Result<(), TableError> {
        if self.header.levels != levels || self.header.codebook_size != codebook_size {
            return Err(TableError::ConfigMismatch {
                table_levels: self.header.levels,
                table_codebook: self.header.codebook_size,
                model_levels: levels,
                model_codebook: codebook_size,
            });
        }
        if self.header.model != fingerprint {
            return Err(TableError::ModelMismatch {
                table: self.header.model.clone(),
                model: fingerprint.into(),
            });
        }
        Ok(())
    }

    /// The table as JSON Lines, header on the first line.
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::with_capacity(self.len() * 80 + 300);
        self.write_jsonl(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// [`Self::to_jsonl`] written line by line, so that a large table is never also held as
    /// text.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let header = serde_json::to_string(&self.header).expect("a header serialises");
        for (i, e) in self.entries().enumerate() {
            write!(out, "{{\"id\":{},\"codes\":[", e.id)?;
            for (k, c) in e.codes.iter().enumerate() {
                if k > 0 {
                    out.write_all(b",")?;
                }
                write!(out, "{c}")?;
            }
            write!(out, "],\"tokens\":\"{}\"", e.tokens())?;
            if let Some(c) = e.reassigned_from {
                write!(out, ",\"reassigned_from\":{c}")?;
            }
            if i == 0 {
                write!(out, ",\"table\":{header}")?;
            }
            out.write_all(b"}\n")?;
        }
        if self.is_empty() {
            // An empty table still records its model and policy.
            writeln!(out, "{{\"table\":{header}}}")?;
        }
        Ok(())
    }

    /// `item_id,sid_0,…,sid_L` with the disambiguation code as the last column.
    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        self.write_csv(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("CSV of UTF-8 ids is UTF-8")
    }

    pub fn write_csv<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        out.write_all(b"item_id")?;
        for l in 0..=self.header.levels {
            write!(out, ",sid_{l}")?;
        }
        out.write_all(b"\n")?;
        for e in self.entries() {
            out.write_all(csv_field(&e.id).as_bytes())?;
            for c in e.codes {
                write!(out, ",{c}")?;
            }
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// LC-Rec's index: one JSON object mapping each id (as a string key) to its token list.
    pub fn to_lcrec_json(&self) -> String {
        let mut out = Vec::new();
        self.write_lcrec_json(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    pub fn write_lcrec_json<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        out.write_all(b"{")?;
        for (i, e) in self.entries().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let key = match e.id {
                ItemId::Int(v) => v.to_string(),
                ItemId::Str(s) => s,
            };
            write!(
                out,
                "\n  {}: {}",
                Value::from(key),
                serde_json::to_string(&token_list(e.codes)).expect("tokens serialise")
            )?;
        }
        out.write_all(b"\n}\n")
    }

    /// Parses and checks a table written by [`Self::to_jsonl`] (blank lines are skipped).
    pub fn from_jsonl(text: &str) -> Result<Self, TableError> {
        Self::read_jsonl(text.as_bytes())
    }

    /// [`Self::from_jsonl`] reading line by line, so that a large table is never also held as
    /// text. The header is normally on the first line; lines before it wait for it.
    pub fn read_jsonl<R: BufRead>(reader: R) -> Result<Self, TableError> {
        let mut table: Option<(usize, TableBuilder)> = None;
        let mut waiting: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (i, raw) in reader.lines().enumerate() {
            let line = i + 1;
            let raw = raw.map_err(|e| TableError::Json {
                line,
                message: e.to_string(),
            })?;
            if raw.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&raw).map_err(|e| TableError::Json {
                line,
                message: e.to_string(),
            })?;
            let Value::Object(mut object) = value else {
                return Err(TableError::Field {
                    line,
                    message: format!("expected a JSON object, found {}", json_kind(&value)),
                });
            };
            if let Some(h) = object.remove("table") {
                if let Some((first, _)) = table {
                    return Err(TableError::TwoHeaders {
                        first,
                        second: line,
                    });
                }
                let mut builder = TableBuilder::new(line, h)?;
                for (line, object) in std::mem::take(&mut waiting) {
                    builder.push_object(line, &object)?;
                }
                table = Some((line, builder));
            }
            if object.is_empty() {
                continue;
            }
            match &mut table {
                Some((_, builder)) => builder.push_object(line, &object)?,
                None => waiting.push((line, object)),
            }
        }
        table.ok_or(TableError::NoHeader)?.1.finish()
    }

    /// Checks one loaded line and appends it. Duplicate full IDs are caught here when they
    /// repeat their tuple's highest code, otherwise by [`Self::check_unique_codes`].
    fn load_line(
        &mut self,
        line: usize,
        object: &Map<String, Value>,
        lines: &mut Vec<u32>,
    ) -> Result<(), TableError> {
        let entry = parse_entry(line, object, &self.header)?;
        if let Some(first) = self.position(&entry.id) {
            return Err(TableError::DuplicateId {
                id: entry.id.to_string(),
                first: lines[first] as usize,
                second: line,
            });
        }
        if let Some(held) = self.tuple_holder(entry.tuple()) {
            if self.entry(held).suffix() == entry.suffix() {
                return Err(TableError::DuplicateCodes {
                    codes: entry.codes,
                    first: lines[held] as usize,
                    second: line,
                });
            }
        }
        lines.push(line as u32);
        self.push(entry);
        Ok(())
    }

    /// Fails if two entries hold the same full ID (naming the first such pair by line).
    fn check_unique_codes(&self, lines: &[u32]) -> Result<(), TableError> {
        let stride = self.header.levels + 1;
        let full = |p: u32| &self.codes[p as usize * stride..(p as usize + 1) * stride];
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| full(a).cmp(full(b)).then(a.cmp(&b)));
        let repeat = order
            .windows(2)
            .filter(|w| full(w[0]) == full(w[1]))
            .min_by_key(|w| w[1]);
        match repeat {
            None => Ok(()),
            Some(w) => {
                // The earliest holder of that ID: the start of its run in `order`.
                let first = order
                    .iter()
                    .copied()
                    .filter(|&p| full(p) == full(w[1]))
                    .min()
                    .expect("the pair is in the run");
                Err(TableError::DuplicateCodes {
                    codes: full(w[1]).to_vec(),
                    first: lines[first as usize] as usize,
                    second: lines[w[1] as usize] as usize,
                })
            }
        }
    }
}

/// A table built one entry at a time with [`IdTable::from_jsonl`]'s checks, for readers of other
/// formats (Parquet) that hand each entry over as the JSON object a line would hold. `line` is
/// whatever numbers the entries in that format (a row); errors carry it as their `line`.
pub struct TableBuilder {
    table: IdTable,
    /// The `line` of each entry, for the errors of the final duplicate check.
    lines: Vec<u32>,
}

impl TableBuilder {
    /// Checks the header object (the value under `"table"`): format, version, levels, codebook.
    pub fn new(line: usize, header: Value) -> Result<Self, TableError> {
        let header = parse_header(line, header)?;
        Ok(Self {
            table: IdTable::new(
                &header.model,
                header.levels,
                header.codebook_size,
                header.resolution,
            )?,
            lines: Vec::new(),
        })
    }

    pub fn header(&self) -> &TableHeader {
        &self.table.header
    }

    /// Checks one entry (fields, shape, code ranges, tokens, duplicate id, duplicate ID) and
    /// appends it.
    pub fn push_object(
        &mut self,
        line: usize,
        object: &Map<String, Value>,
    ) -> Result<(), TableError> {
        self.table.load_line(line, object, &mut self.lines)
    }

    /// The table, once no two entries hold the same full ID.
    pub fn finish(self) -> Result<IdTable, TableError> {
        self.table.check_unique_codes(&self.lines)?;
        Ok(self.table)
    }
}

/// The semantic tuple of the entry at `position` in codes of `stride` per entry.
fn tuple_at(codes: &[u32], stride: usize, position: usize) -> &[u32] {
    &codes[position * stride..(position + 1) * stride - 1]
}

/// An id as a CSV field: quoted (RFC 4180) where it holds a separator, a quote, a line break or
/// surrounding spaces.
pub(crate) fn csv_field(id: &ItemId) -> String {
    match id {
        ItemId::Int(v) => v.to_string(),
        ItemId::Str(s) if s.contains([',', '"', '\n', '\r']) || s.trim() != s => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        ItemId::Str(s) => s.clone(),
    }
}

fn parse_header(line: usize, value: Value) -> Result<TableHeader, TableError> {
    let format = value.get("format").and_then(Value::as_str).unwrap_or("");
    if format != TABLE_FORMAT {
        return Err(TableError::Format {
            line,
            found: format.into(),
        });
    }
    let version = value.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(TABLE_VERSION) {
        return Err(TableError::Version {
            line,
            found: version as u32,
        });
    }
    let header: TableHeader = serde_json::from_value(value).map_err(|e| TableError::Field {
        line,
        message: format!("table header: {e}"),
    })?;
    if header.levels == 0 || header.codebook_size == 0 {
        return Err(TableError::Field {
            line,
            message: "table header: levels and codebook_size must be at least 1".into(),
        });
    }
    Ok(header)
}

fn parse_entry(
    line: usize,
    object: &Map<String, Value>,
    header: &TableHeader,
) -> Result<TableEntry, TableError> {
    let field = |message: String| TableError::Field { line, message };
    let id = object
        .get("id")
        .ok_or_else(|| field("no \"id\"".into()))
        .and_then(|v| ItemId::from_json(v).map_err(field))?;
    let codes = object
        .get("codes")
        .and_then(Value::as_array)
        .ok_or_else(|| field("no \"codes\" array".into()))?
        .iter()
        .map(|v| {
            v.as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| field(format!("code {v} is not a non-negative integer")))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    let expected = header.levels + 1;
    if codes.len() != expected {
        return Err(TableError::Shape {
            line,
            expected,
            found: codes.len(),
        });
    }
    let code_range = |level: usize, code: u32| TableError::CodeRange {
        line,
        level,
        code,
        codebook_size: header.codebook_size,
    };
    for (level, &code) in codes[..header.levels].iter().enumerate() {
        if code as usize >= header.codebook_size {
            return Err(code_range(level, code));
        }
    }
    let reassigned_from = match object.get("reassigned_from") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let c = v
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| field(format!("reassigned_from {v} is not a code")))?;
            if c as usize >= header.codebook_size {
                return Err(code_range(header.levels - 1, c));
            }
            Some(c)
        }
    };
    if let Some(found) = object.get("tokens") {
        let expected = tokens(&codes);
        if found.as_str() != Some(expected.as_str()) {
            return Err(TableError::Tokens {
                line,
                codes,
                expected,
                found: found
                    .as_str()
                    .map_or_else(|| found.to_string(), String::from),
            });
        }
    }
    Ok(TableEntry {
        id,
        codes,
        reassigned_from,
    })
}

/// Item ids from an items file in the catalog's format: JSON Lines, line `i` naming row `i`
/// with an `"id"` field (other fields are ignored). Blank lines are not allowed, since they
/// would shift every later row.
pub fn read_item_ids(text: &str) -> Result<Vec<ItemId>, TableError> {
    let mut ids = Vec::new();
    let mut seen: HashMap<ItemId, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let field = |message: String| TableError::Field { line, message };
        if raw.trim().is_empty() {
            // A trailing newline ends the last line; only a blank line in the middle is an error.
            if text.lines().skip(i).all(|l| l.trim().is_empty()) {
                break;
            }
            return Err(field("blank line: line i must name row i".into()));
        }
        let value: Value = serde_json::from_str(raw).map_err(|e| TableError::Json {
            line,
            message: e.to_string(),
        })?;
        let id = value
            .as_object()
            .ok_or_else(|| {
                field(format!(
                    "expected a JSON object, found {}",
                    json_kind(&value)
                ))
            })?
            .get("id")
            .ok_or_else(|| field("no \"id\"".into()))
            .and_then(|v| ItemId::from_json(v).map_err(field))?;
        if let Some(&first) = seen.get(&id) {
            return Err(TableError::DuplicateId {
                id: id.to_string(),
                first,
                second: line,
            });
        }
        seen.insert(id.clone(), line);
        ids.push(id);
    }
    Ok(ids)
}
