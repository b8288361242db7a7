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

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

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
        tokens(&self.codes)
    }
}

/// The tokens of a full ID.
pub fn tokens(codes: &[u32]) -> String {
    token_list(codes).concat()
}

/// The tokens of a full ID, one string each (LC-Rec's index format).
fn token_list(codes: &[u32]) -> Vec<String> {
    codes
        .iter()
        .zip(TOKEN_LETTERS)
        .map(|(c, &letter)| format!("<{}_{c}>", letter as char))
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
    #[error("{levels} levels need {needed} token letters; at most {max} levels are supported", needed = levels + 1, max = TOKEN_LETTERS.len() - 1)]
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

/// A table of IDs: entries in assignment order, indexed by id and by semantic tuple.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTable {
    header: TableHeader,
    entries: Vec<TableEntry>,
    by_id: HashMap<ItemId, usize>,
    /// Disambiguation codes in use for each semantic tuple.
    suffixes: HashMap<Vec<u32>, BTreeSet<u32>>,
}

impl IdTable {
    /// An empty table for the model with `fingerprint`.
    pub fn new(
        fingerprint: &str,
        levels: usize,
        codebook_size: usize,
        resolution: Resolution,
    ) -> Result<Self, TableError> {
        if levels + 1 > TOKEN_LETTERS.len() {
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
            entries: Vec::new(),
            by_id: HashMap::new(),
            suffixes: HashMap::new(),
        })
    }

    pub fn header(&self) -> &TableHeader {
        &self.header
    }

    pub fn entries(&self) -> &[TableEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `id`, if the table has it.
    pub fn get(&self, id: &ItemId) -> Option<&TableEntry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// Position of `id` in [`Self::entries`].
    pub fn position(&self, id: &ItemId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Whether an item already holds the semantic tuple.
    pub fn tuple_taken(&self, tuple: &[u32]) -> bool {
        self.suffixes.get(tuple).is_some_and(|s| !s.is_empty())
    }

    /// The disambiguation code the next item with `tuple` gets: one above the highest in use,
    /// so a suffix is never shared, even after items left the tuple.
    pub fn next_suffix(&self, tuple: &[u32]) -> u32 {
        self.suffixes
            .get(tuple)
            .and_then(|s| s.last())
            .map_or(0, |&d| d + 1)
    }

    /// Appends an entry. The caller guarantees a new id and a free full ID.
    pub(crate) fn push(&mut self, entry: TableEntry) {
        self.claim(&entry);
        self.by_id.insert(entry.id.clone(), self.entries.len());
        self.entries.push(entry);
    }

    /// Gives the entry at `index` new codes; its old full ID must have been [`Self::release`]d.
    pub(crate) fn replace(&mut self, index: usize, codes: Vec<u32>, reassigned_from: Option<u32>) {
        let entry = TableEntry {
            id: self.entries[index].id.clone(),
            codes,
            reassigned_from,
        };
        self.claim(&entry);
        self.entries[index] = entry;
    }

    /// Releases the full ID of the entry at `index` (it is about to be re-assigned).
    pub(crate) fn release(&mut self, index: usize) {
        let old = &self.entries[index];
        if let Some(set) = self.suffixes.get_mut(old.tuple()) {
            set.remove(&old.suffix());
        }
    }

    fn claim(&mut self, entry: &TableEntry) {
        self.suffixes
            .entry(entry.tuple().to_vec())
            .or_default()
            .insert(entry.suffix());
    }

    /// Ids for `rows` new rows given without ids: their row numbers, counted on from the
    /// table's size (a catalog's new rows follow its old ones). Refused if one is already an id
    /// in the table, since that row would silently be taken for the existing item.
    pub fn row_number_ids(&self, rows: usize) -> Result<Vec<ItemId>, TableError> {
        let first = self.len();
        let ids: Vec<ItemId> = (first..first + rows)
            .map(|i| ItemId::Int(i as i64))
            .collect();
        match ids.iter().find(|id| self.by_id.contains_key(id)) {
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
        let mut out = String::with_capacity(self.entries.len() * 80 + 300);
        let header = serde_json::to_string(&self.header).expect("a header serialises");
        for (i, e) in self.entries.iter().enumerate() {
            out.push_str(&format!(
                "{{\"id\":{},\"codes\":{},\"tokens\":\"{}\"",
                e.id,
                serde_json::to_string(&e.codes).expect("codes serialise"),
                e.tokens()
            ));
            if let Some(c) = e.reassigned_from {
                out.push_str(&format!(",\"reassigned_from\":{c}"));
            }
            if i == 0 {
                out.push_str(&format!(",\"table\":{header}"));
            }
            out.push_str("}\n");
        }
        if self.entries.is_empty() {
            // An empty table still records its model and policy.
            out.push_str(&format!("{{\"table\":{header}}}\n"));
        }
        out
    }

    /// `item_id,sid_0,…,sid_L` with the disambiguation code as the last column.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("item_id");
        for l in 0..=self.header.levels {
            out.push_str(&format!(",sid_{l}"));
        }
        out.push('\n');
        for e in &self.entries {
            out.push_str(&csv_field(&e.id));
            for c in &e.codes {
                out.push_str(&format!(",{c}"));
            }
            out.push('\n');
        }
        out
    }

    /// LC-Rec's index: one JSON object mapping each id (as a string key) to its token list.
    pub fn to_lcrec_json(&self) -> String {
        let mut out = String::from("{");
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let key = match &e.id {
                ItemId::Int(v) => v.to_string(),
                ItemId::Str(s) => s.clone(),
            };
            out.push_str(&format!(
                "\n  {}: {}",
                Value::from(key),
                serde_json::to_string(&token_list(&e.codes)).expect("tokens serialise")
            ));
        }
        out.push_str("\n}\n");
        out
    }

    /// Parses and checks a table written by [`Self::to_jsonl`] (blank lines are skipped).
    pub fn from_jsonl(text: &str) -> Result<Self, TableError> {
        let mut header: Option<(usize, TableHeader)> = None;
        let mut lines: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(raw).map_err(|e| TableError::Json {
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
                if let Some((first, _)) = header {
                    return Err(TableError::TwoHeaders {
                        first,
                        second: line,
                    });
                }
                header = Some((line, parse_header(line, h)?));
            }
            if !object.is_empty() {
                lines.push((line, object));
            }
        }
        let (_, header) = header.ok_or(TableError::NoHeader)?;
        let mut table = Self::new(
            &header.model,
            header.levels,
            header.codebook_size,
            header.resolution,
        )?;
        let mut line_of_codes: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut line_of_id: HashMap<ItemId, usize> = HashMap::new();
        for (line, object) in lines {
            let entry = parse_entry(line, &object, &header)?;
            if let Some(&first) = line_of_id.get(&entry.id) {
                return Err(TableError::DuplicateId {
                    id: entry.id.to_string(),
                    first,
                    second: line,
                });
            }
            if let Some(&first) = line_of_codes.get(&entry.codes) {
                return Err(TableError::DuplicateCodes {
                    codes: entry.codes,
                    first,
                    second: line,
                });
            }
            line_of_id.insert(entry.id.clone(), line);
            line_of_codes.insert(entry.codes.clone(), line);
            table.push(entry);
        }
        Ok(table)
    }
}

fn csv_field(id: &ItemId) -> String {
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
