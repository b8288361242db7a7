//! Names for prefixes: an editor reads `<a_51>` as "castlevania", not as a code. Each prefix of a
//! table gets a label from its items' titles: the terms most distinctive of it against its
//! siblings (the prefixes under the same parent), scored by class-based TF-IDF (BERTopic's
//! c-TF-IDF, with the siblings as the classes). An editor's own names replace them and are kept
//! in a labels file tied to the table's model by its fingerprint (`LabelsFile`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Words too common in any title to name a group of items.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "is", "it", "its", "of", "on",
    "or", "the", "to", "vs", "with", "without", "your", "you", "new", "edition", "version",
];

/// The terms of a title: lower-cased runs of letters and digits of at least 2 characters, stop
/// words left out. Apostrophes inside a word are dropped ("Assassin's" is "assassins").
pub fn title_terms(title: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut word = String::new();
    let mut flush = |word: &mut String| {
        if word.chars().count() >= 2 && !STOP_WORDS.contains(&word.as_str()) {
            terms.push(std::mem::take(word));
        } else {
            word.clear();
        }
    };
    for c in title.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if c != '\'' && c != '’' {
            flush(&mut word);
        }
    }
    flush(&mut word);
    terms
}

/// How labels are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelOptions {
    /// Terms in a label (the most distinctive first).
    pub terms: usize,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self { terms: 2 }
    }
}

/// The automatic label of one prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefixLabel {
    /// The prefix's codes: 1 for level A, 2 for (A, B), …
    pub prefix: Vec<u32>,
    /// Items under the prefix.
    pub items: usize,
    /// Of them, items with a title (the label comes from these alone).
    pub titled: usize,
    /// The distinctive terms, the most distinctive first; empty when no item has a title.
    pub terms: Vec<String>,
    /// The terms joined for display (`"castlevania · symphony"`); empty when there are none.
    pub label: String,
}

/// Term counts of one prefix's titles.
#[derive(Default)]
struct Class {
    items: usize,
    titled: usize,
    counts: HashMap<String, u32>,
    total: u64,
}

/// Labels for every prefix of every level of the tuples `codes` (row-major, `levels` codes per
/// item), from the items' `titles` (`None` or an empty title: the item counts, its words do not).
/// Prefixes come level by level, each level in code order.
///
/// A term's weight in a prefix is its share of the prefix's terms times `ln(1 + A / f)`, where
/// `f` is the term's count over the prefix and its siblings, and `A` the siblings' mean count of
/// terms: frequent in this prefix, rare in its siblings. Ties go to the term first in
/// alphabetical order, so labels do not depend on hashing.
pub fn prefix_labels(
    codes: &[u32],
    levels: usize,
    titles: &[Option<&str>],
    options: LabelOptions,
) -> Vec<PrefixLabel> {
    assert!(levels > 0, "a tuple has at least one level");
    assert_eq!(codes.len(), titles.len() * levels, "one title per item");
    let terms: Vec<Vec<String>> = titles
        .iter()
        .map(|t| t.map(title_terms).unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    for depth in 1..=levels {
        // Each prefix of this depth, grouped under its parent (the prefix one level up).
        let mut classes: BTreeMap<&[u32], Class> = BTreeMap::new();
        for (i, item_terms) in terms.iter().enumerate() {
            let prefix = &codes[i * levels..i * levels + depth];
            let class = classes.entry(prefix).or_default();
            class.items += 1;
            if !item_terms.is_empty() {
                class.titled += 1;
            }
            for t in item_terms {
                *class.counts.entry(t.clone()).or_insert(0) += 1;
                class.total += 1;
            }
        }
        let mut siblings: BTreeMap<&[u32], Vec<(&[u32], &Class)>> = BTreeMap::new();
        for (prefix, class) in &classes {
            siblings
                .entry(&prefix[..depth - 1])
                .or_default()
                .push((prefix, class));
        }
        for group in siblings.values() {
            let mut across: HashMap<&str, u64> = HashMap::new();
            for (_, class) in group {
                for (t, &n) in &class.counts {
                    *across.entry(t.as_str()).or_insert(0) += u64::from(n);
                }
            }
            let mean_terms =
                group.iter().map(|(_, c)| c.total as f64).sum::<f64>() / group.len() as f64;
            for (prefix, class) in group {
                let mut scored: Vec<(f64, &str)> = class
                    .counts
                    .iter()
                    .map(|(t, &n)| {
                        let tf = f64::from(n) / class.total as f64;
                        let f = across[t.as_str()] as f64;
                        (tf * (1.0 + mean_terms / f).ln(), t.as_str())
                    })
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
                let terms: Vec<String> = scored
                    .iter()
                    .take(options.terms)
                    .map(|(_, t)| t.to_string())
                    .collect();
                out.push(PrefixLabel {
                    prefix: prefix.to_vec(),
                    items: class.items,
                    titled: class.titled,
                    label: terms.join(" · "),
                    terms,
                });
            }
        }
    }
    out
}

/// The key of a prefix in a labels file: its codes joined by `/` (`"51"`, `"51/3"`), as the
/// demo keys its tree.
pub fn prefix_key(prefix: &[u32]) -> String {
    prefix
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// Why a labels file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelsError {
    #[error("not a labels file: {0}")]
    Json(String),
    #[error("not a labels file: format is {found:?}, expected \"rqvae-labels\"")]
    Format { found: String },
    #[error("labels file version {found} is not supported (this build reads version 1)")]
    Version { found: u32 },
    #[error(
        "the labels were made for the table of model {found}, but this table's model is \
         {expected}"
    )]
    Fingerprint { expected: String, found: String },
    #[error("prefix key {key:?} is not {levels} or fewer codes joined by '/' (e.g. \"51/3\")")]
    Key { key: String, levels: usize },
    #[error("prefix {key:?} has an empty name")]
    EmptyName { key: String },
}

/// An editor's names for prefixes, saved beside a table: `{"format": "rqvae-labels",
/// "version": 1, "model": …, "levels": …, "names": {"51": "Castlevania", …}}`, where `model` is
/// the fingerprint of the model that made the table, as in the table's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsFile {
    pub format: String,
    pub version: u32,
    /// The fingerprint of the model that made the table the names belong to.
    pub model: String,
    pub levels: usize,
    /// Names by prefix key ([`prefix_key`]), in key order.
    pub names: BTreeMap<String, String>,
}

impl LabelsFile {
    pub fn new(fingerprint: &str, levels: usize) -> Self {
        Self {
            format: "rqvae-labels".into(),
            version: 1,
            model: fingerprint.into(),
            levels,
            names: BTreeMap::new(),
        }
    }

    /// A labels file holding `names` (prefix key → name), each checked as a file's are; names
    /// are trimmed.
    pub fn with_names(
        fingerprint: &str,
        levels: usize,
        names: BTreeMap<String, String>,
    ) -> Result<Self, LabelsError> {
        let mut file = Self::new(fingerprint, levels);
        file.names = names
            .into_iter()
            .map(|(key, name)| (key, name.trim().to_string()))
            .collect();
        file.check_names()?;
        Ok(file)
    }

    /// Reads a labels file and checks it belongs to a table of model `fingerprint`.
    pub fn from_json(text: &str, fingerprint: &str) -> Result<Self, LabelsError> {
        let file: Self =
            serde_json::from_str(text).map_err(|e| LabelsError::Json(e.to_string()))?;
        if file.format != "rqvae-labels" {
            return Err(LabelsError::Format { found: file.format });
        }
        if file.version != 1 {
            return Err(LabelsError::Version {
                found: file.version,
            });
        }
        if file.model != fingerprint {
            return Err(LabelsError::Fingerprint {
                expected: fingerprint.into(),
                found: file.model,
            });
        }
        file.check_names()?;
        Ok(file)
    }

    fn check_names(&self) -> Result<(), LabelsError> {
        for (key, name) in &self.names {
            self.check_key(key)?;
            if name.trim().is_empty() {
                return Err(LabelsError::EmptyName { key: key.clone() });
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a labels file serialises")
    }

    fn check_key(&self, key: &str) -> Result<(), LabelsError> {
        let parts: Vec<&str> = key.split('/').collect();
        let ok = parts.len() <= self.levels
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 9);
        if ok {
            Ok(())
        } else {
            Err(LabelsError::Key {
                key: key.into(),
                levels: self.levels,
            })
        }
    }

    /// Names `prefix` (a name that is blank after trimming removes the editor's name, so the
    /// automatic label shows again).
    pub fn rename(&mut self, prefix: &[u32], name: &str) -> Result<(), LabelsError> {
        let key = prefix_key(prefix);
        if prefix.is_empty() {
            return Err(LabelsError::Key {
                key,
                levels: self.levels,
            });
        }
        self.check_key(&key)?;
        let name = name.trim();
        if name.is_empty() {
            self.names.remove(&key);
        } else {
            self.names.insert(key, name.to_string());
        }
        Ok(())
    }

    /// The editor's name for `prefix`, if any.
    pub fn name(&self, prefix: &[u32]) -> Option<&str> {
        self.names.get(&prefix_key(prefix)).map(String::as_str)
    }
}
