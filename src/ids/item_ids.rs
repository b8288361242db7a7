//! A column of item ids: 8 bytes an id while every id is an integer (catalogs of 10⁸ items
//! mostly number their items), an [`ItemId`] each once a string id arrives.

use crate::ids::table::ItemId;
use std::hash::BuildHasher;

#[derive(Debug, Clone)]
pub struct ItemIds(Column);

#[derive(Debug, Clone)]
enum Column {
    Ints(Vec<i64>),
    Any(Vec<ItemId>),
}

impl Default for ItemIds {
    fn default() -> Self {
        Self(Column::Ints(Vec::new()))
    }
}

impl ItemIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// `first`, `first + 1`, … : `n` row numbers as ids.
    pub fn row_numbers(first: usize, n: usize) -> Self {
        Self(Column::Ints((first as i64..(first + n) as i64).collect()))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Column::Ints(v) => v.len(),
            Column::Any(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id at `i`.
    pub fn get(&self, i: usize) -> ItemId {
        match &self.0 {
            Column::Ints(v) => ItemId::Int(v[i]),
            Column::Any(v) => v[i].clone(),
        }
    }

    /// Whether the id at `i` is `id`, without building it.
    pub fn eq_at(&self, i: usize, id: &ItemId) -> bool {
        match (&self.0, id) {
            (Column::Ints(v), ItemId::Int(x)) => v[i] == *x,
            (Column::Ints(_), ItemId::Str(_)) => false,
            (Column::Any(v), _) => v[i] == *id,
        }
    }

    /// The hash of the id at `i`: the same as `hasher.hash_one(&self.get(i))`.
    pub fn hash_at<S: BuildHasher>(&self, i: usize, hasher: &S) -> u64 {
        match &self.0 {
            Column::Ints(v) => hasher.hash_one(ItemId::Int(v[i])),
            Column::Any(v) => hasher.hash_one(&v[i]),
        }
    }

    pub fn push(&mut self, id: ItemId) {
        match (&mut self.0, id) {
            (Column::Ints(v), ItemId::Int(x)) => v.push(x),
            (Column::Ints(v), id) => {
                let mut any: Vec<ItemId> = Vec::with_capacity(v.capacity().max(v.len() + 1));
                any.extend(v.iter().map(|&x| ItemId::Int(x)));
                any.push(id);
                self.0 = Column::Any(any);
            }
            (Column::Any(v), id) => v.push(id),
        }
    }

    pub fn reserve_exact(&mut self, additional: usize) {
        match &mut self.0 {
            Column::Ints(v) => v.reserve_exact(additional),
            Column::Any(v) => v.reserve_exact(additional),
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = ItemId> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl From<Vec<ItemId>> for ItemIds {
    fn from(ids: Vec<ItemId>) -> Self {
        if ids.iter().all(|id| matches!(id, ItemId::Int(_))) {
            let ints = ids
                .iter()
                .map(|id| match id {
                    ItemId::Int(x) => *x,
                    ItemId::Str(_) => unreachable!("checked above"),
                })
                .collect();
            Self(Column::Ints(ints))
        } else {
            Self(Column::Any(ids))
        }
    }
}

impl From<&[ItemId]> for ItemIds {
    fn from(ids: &[ItemId]) -> Self {
        ids.to_vec().into()
    }
}

impl PartialEq for ItemIds {
    /// The same ids in the same order, however they are held.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Column::Ints(a), Column::Ints(b)) => a == b,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}
