//! Collision resolution split by (A, B) prefix group: each group resolved alone, anywhere, gives
//! the table that one pass over every row gives. What the distributed pipeline relies on.

use crate::data::{self, default_model};
use rqvae::ids::assign::{assign, encode_ranked, resolve_group, AssignOptions};
use rqvae::ids::canonical;
use rqvae::ids::table::{IdTable, ItemId, Resolution};
use rqvae::{Embeddings, HostModel};
use std::collections::BTreeMap;

/// The sample's first 2,000 rows, then 600 of them again with a little noise: near-duplicates
/// that collide with the originals and with each other, so groups fill and items move.
fn crowded_rows() -> Embeddings {
    let x = data::sample_rows(2000);
    let dim = x.dim();
    let mut v = x.as_slice().to_vec();
    for r in 0..600 {
        let row = x.row((r * 7) % 2000);
        let mut noisy: Vec<f32> = row
            .iter()
            .enumerate()
            .map(|(i, &a)| a + 1e-3 * (((r * 31 + i * 17) % 13) as f32 - 6.0))
            .collect();
        let norm = noisy.iter().map(|a| a * a).sum::<f32>().sqrt();
        noisy.iter_mut().for_each(|a| *a /= norm);
        v.extend(noisy);
    }
    Embeddings::new(v, dim).unwrap()
}

fn slice(x: &Embeddings, start: usize, end: usize) -> Embeddings {
    Embeddings::new(x.slice_rows(start, end).to_vec(), x.dim()).unwrap()
}

/// The table of `x` (rows `existing..` added to a table already holding rows `..existing`),
/// rebuilt group by group with [`resolve_group`], as a distributed run does.
fn by_groups(host: &HostModel, x: &Embeddings, existing: usize, resolution: Resolution) -> IdTable {
    let (levels, k) = (host.levels(), host.codebook_size());
    let mut table = IdTable::new(host.fingerprint(), levels, k, resolution).unwrap();
    let ids: Vec<ItemId> = (0..x.rows() as i64).map(ItemId::Int).collect();
    if existing > 0 {
        let old = slice(x, 0, existing);
        assign(
            &mut table,
            host,
            &old,
            &ids[..existing],
            AssignOptions::default(),
        )
        .unwrap();
    }
    let new = slice(x, existing, x.rows());
    let (nearest, ranking) = encode_ranked(host, &new);
    // Group the new rows (in row order) and the existing entries by (A, B).
    let mut groups: BTreeMap<(u32, u32), (Vec<u32>, Vec<usize>)> = BTreeMap::new();
    for e in table.entries() {
        groups
            .entry((e.codes[0], e.codes[1]))
            .or_default()
            .0
            .extend_from_slice(e.codes);
    }
    for r in 0..new.rows() {
        let t = &nearest[r * levels..(r + 1) * levels];
        groups.entry((t[0], t[1])).or_default().1.push(r);
    }
    let mut placed: Vec<Option<(Vec<u32>, Option<u32>)>> = vec![None; new.rows()];
    // Groups in reverse order: the order groups are resolved in must not matter.
    for (existing_codes, rows) in groups.values().rev() {
        let near: Vec<u32> = rows
            .iter()
            .flat_map(|&r| nearest[r * levels..(r + 1) * levels].to_vec())
            .collect();
        let rank: Vec<u16> = rows
            .iter()
            .flat_map(|&r| ranking[r * k..(r + 1) * k].to_vec())
            .collect();
        let got = resolve_group(levels, k, resolution, existing_codes, &near, &rank).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let codes = got.codes[i * (levels + 1)..(i + 1) * (levels + 1)].to_vec();
            placed[r] = Some((codes, got.reassigned_from[i]));
        }
    }
    let text: String = table.to_jsonl()
        + &placed
            .into_iter()
            .enumerate()
            .map(|(r, p)| {
                let (codes, from) = p.expect("every row is in a group");
                let mut line = serde_json::json!({ "id": existing + r, "codes": codes });
                if let Some(c) = from {
                    line["reassigned_from"] = c.into();
                }
                line.to_string() + "\n"
            })
            .collect::<String>();
    IdTable::from_jsonl(&text).unwrap()
}

fn one_pass(host: &HostModel, x: &Embeddings, resolution: Resolution) -> IdTable {
    let mut table = IdTable::new(
        host.fingerprint(),
        host.levels(),
        host.codebook_size(),
        resolution,
    )
    .unwrap();
    let ids: Vec<ItemId> = (0..x.rows() as i64).map(ItemId::Int).collect();
    assign(&mut table, host, x, &ids, AssignOptions::default()).unwrap();
    table
}

#[test]
fn resolving_each_prefix_group_alone_equals_one_pass_over_every_row() {
    let host = HostModel::new(&default_model()).unwrap();
    let x = crowded_rows();
    for resolution in [Resolution::Reassign, Resolution::Suffix] {
        let whole = one_pass(&host, &x, resolution);
        let moved = whole
            .entries()
            .filter(|e| e.reassigned_from.is_some())
            .count();
        let suffixed = whole.entries().filter(|e| e.suffix() > 0).count();
        assert!(
            moved + suffixed > 100,
            "{resolution:?}: too few collisions to test"
        );
        for existing in [0, 1500] {
            let grouped = by_groups(&host, &x, existing, resolution);
            assert!(
                grouped == whole,
                "{resolution:?}, {existing} rows existing: the group-wise table differs"
            );
        }
    }
}

#[test]
fn ranked_encoding_gives_the_canonical_codes_and_every_code_once_per_row() {
    let host = HostModel::new(&default_model()).unwrap();
    let x = data::sample_rows(300);
    let (nearest, ranking) = encode_ranked(&host, &x);
    assert_eq!(nearest, canonical::encode(&host, &x));
    let (levels, k) = (host.levels(), host.codebook_size());
    for r in 0..x.rows() {
        let row = &ranking[r * k..(r + 1) * k];
        assert_eq!(
            u32::from(row[0]),
            nearest[r * levels + levels - 1],
            "row {r}"
        );
        let mut sorted = row.to_vec();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &c)| c as usize == i));
    }
}

#[test]
fn a_malformed_group_is_refused_with_what_is_wrong() {
    let err = |existing: &[u32], near: &[u32], rank: &[u16]| {
        resolve_group(3, 4, Resolution::Reassign, existing, near, rank)
            .unwrap_err()
            .to_string()
    };
    let rank = [0u16, 1, 2, 3];
    assert!(err(&[1, 2, 3], &[1, 2, 3], &rank).contains("4 codes per entry"));
    assert!(err(&[], &[1, 2, 3], &rank[..3]).contains("1 rows need 4 ranking codes"));
    assert!(err(&[], &[1, 2, 9], &rank).contains("code 9 is outside the codebook"));
    assert!(err(&[], &[1, 2, 3], &[0, 1, 2, 7]).contains("code 7"));
    assert!(err(&[1, 2, 3, 0, 1, 2, 3, 0], &[], &[]).contains("given twice"));
    assert!(matches!(
        resolve_group(3, 4, Resolution::Reassign, &[], &[], &[]),
        Ok(p) if p.codes.is_empty()
    ));
}
