//! Catalog items with titles, read in chunks from JSON Lines (`{"id": …, "title": …}`) or CSV with
//! a header (`id,title,…`), so that a catalog of any length is embedded without being held.
//!
//! Every row must have a title that is a non-empty string: an empty or blank title would still
//! get a vector (the encoder's `[CLS] [SEP]`), but a meaningless one, and its item an ID that
//! says nothing; so it is refused, naming the file and the line, like invalid UTF-8, a line that
//! is not JSON, or a missing field.

use crate::ids::table::ItemId;
use std::io::{BufRead, BufReader, Read};

/// One item: its id where the file gives one, and its title.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: Option<ItemId>,
    pub title: String,
}

/// Why an items file cannot be read, with the file and the line.
#[derive(Debug, thiserror::Error)]
#[error("{file}: line {line}: {reason}")]
pub struct ItemsError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// The two layouts, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemsFormat {
    JsonLines,
    Csv,
}

impl ItemsFormat {
    /// `.jsonl` / `.ndjson` / `.json` → JSON Lines, `.csv` → CSV.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Some(Self::JsonLines),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

enum Source<R: Read> {
    Json(BufReader<R>),
    Csv {
        reader: csv::Reader<R>,
        title: usize,
        id: Option<usize>,
    },
}

/// Reads items a chunk at a time.
pub struct ItemsReader<R: Read> {
    source: Source<R>,
    file: String,
    field: String,
    line: usize,
    rows: usize,
}

impl<R: Read> ItemsReader<R> {
    /// Items of `format` from `input`; `file` names it in errors, `field` is the title's field
    /// (JSON key or CSV column).
    pub fn new(input: R, format: ItemsFormat, file: &str, field: &str) -> Result<Self, ItemsError> {
        let err = |line, reason: String| ItemsError {
            file: file.into(),
            line,
            reason,
        };
        let source = match format {
            ItemsFormat::JsonLines => Source::Json(BufReader::new(input)),
            ItemsFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(input);
                let header = reader
                    .byte_headers()
                    .map_err(|e| err(1, format!("not a readable CSV header: {e}")))?
                    .clone();
                let names: Vec<String> = header
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let n = String::from_utf8_lossy(n);
                        // A UTF-8 byte-order mark, as spreadsheets write it, is not part of the name.
                        if i == 0 {
                            n.trim_start_matches('\u{feff}')
                        } else {
                            &n
                        }
                        .trim()
                        .to_string()
                    })
                    .collect();
                let title = names.iter().position(|n| n == field).ok_or_else(|| {
                    err(
                        1,
                        format!(
                            "the header has no \"{field}\" column (it has {}); name the title's column with --field",
                            quoted_list(&names)
                        ),
                    )
                })?;
                let id = names.iter().position(|n| n == "id");
                Source::Csv { reader, title, id }
            }
        };
        Ok(Self {
            source,
            file: file.into(),
            field: field.into(),
            line: 0,
            rows: 0,
        })
    }

    /// Rows read so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Up to `max` more items; `None` at the end of the file.
    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<Item>>, ItemsError> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.next_item()? {
                Some(item) => out.push(item),
                None => break,
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn err(&self, line: usize, reason: String) -> ItemsError {
        ItemsError {
            file: self.file.clone(),
            line,
            reason,
        }
    }

    fn next_item(&mut self) -> Result<Option<Item>, ItemsError> {
        let item = match &mut self.source {
            Source::Json(reader) => {
                let mut bytes = Vec::new();
                let n = reader.read_until(b'\n', &mut bytes).map_err(|e| {
                    self_err(&self.file, self.line + 1, format!("cannot read: {e}"))
                })?;
                if n == 0 {
                    return Ok(None);
                }
                self.line += 1;
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    // Blank lines would shift every later row against its embedding: only
                    // trailing ones (after a file's last newline) are allowed.
                    let mut rest = Vec::new();
                    reader.read_to_end(&mut rest).map_err(|e| {
                        self_err(&self.file, self.line, format!("cannot read: {e}"))
                    })?;
                    if rest.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                    return Err(
                        self.err(self.line, "blank line: every line must be an item".into())
                    );
                }
                let line = self.line;
                let text = std::str::from_utf8(&bytes).map_err(|e| {
                    self.err(
                        line,
                        format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
                    )
                })?;
                let text = if line == 1 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    text
                };
                let value: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| self.err(line, format!("not valid JSON: {e}")))?;
                let object = value
                    .as_object()
                    .ok_or_else(|| self.err(line, "expected a JSON object".into()))?;
                let title = match object.get(&self.field) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => {
                        return Err(self.err(
                            line,
                            format!("\"{}\" must be a string, found {other}", self.field),
                        ))
                    }
                    None => {
                        let keys: Vec<String> = object.keys().cloned().collect();
                        return Err(self.err(
                            line,
                            format!(
                                "no \"{}\" field (it has {}); name the title's field with --field",
                                self.field,
                                quoted_list(&keys)
                            ),
                        ));
                    }
                };
                let id = match object.get("id") {
                    Some(v) => Some(ItemId::from_json(v).map_err(|m| self.err(line, m))?),
                    None => None,
                };
                Item { id, title }
            }
            Source::Csv { reader, title, id } => {
                let mut record = csv::ByteRecord::new();
                let more = reader.read_byte_record(&mut record).map_err(|e| {
                    let line = e.position().map_or(self.line + 2, |p| p.line() as usize);
                    self_err(&self.file, line, format!("not readable CSV: {e}"))
                })?;
                if !more {
                    return Ok(None);
                }
                let line = record
                    .position()
                    .map_or(self.line + 2, |p| p.line() as usize);
                self.line = line;
                let field = |i: usize, name: &str| {
                    std::str::from_utf8(&record[i])
                        .map(str::to_string)
                        .map_err(|_| {
                            self_err(
                                &self.file,
                                line,
                                format!("the \"{name}\" column is not valid UTF-8"),
                            )
                        })
                };
                let title = field(*title, &self.field)?;
                let id = match id {
                    Some(i) => Some(ItemId::Str(field(*i, "id")?)),
                    None => None,
                };
                Item { id, title }
            }
        };
        if item.title.trim().is_empty() {
            return Err(self.err(
                self.line,
                format!(
                    "the title is {}: an item needs a title to get a meaningful ID",
                    if item.title.is_empty() {
                        "empty"
                    } else {
                        "blank"
                    }
                ),
            ));
        }
        self.rows += 1;
        Ok(Some(item))
    }
}

fn self_err(file: &str, line: usize, reason: String) -> ItemsError {
    ItemsError {
        file: file.into(),
        line,
        reason,
    }
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
