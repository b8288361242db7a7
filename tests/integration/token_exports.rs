//! The exports for generative recommenders (`rqvae::ids::{vocabulary, item_tokens,
//! prefix_tree}`) on tables built here: the token layout, every ID's path through the prefix
//! tree, ids as the table holds them, and the token offset.

use rqvae::ids::item_tokens::{tokens_csv, tokens_jsonl, write_tokens_jsonl};
use rqvae::ids::prefix_tree::{prefix_tree_json, write_prefix_tree_json};
use rqvae::ids::table::IdTable;
use rqvae::ids::vocabulary::{
    vocabulary, vocabulary_json, ExportError, LevelTokens, TokenLayout, MAX_TOKEN_ID,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const FINGERPRINT: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// A table of `levels` levels and codebooks of `codebook_size` holding `entries` (id, full ID).
fn table(levels: usize, codebook_size: usize, entries: &[(Value, Vec<u32>)]) -> IdTable {
    let header = json!({
        "format": "rqvae-id-table", "version": 1, "model": FINGERPRINT,
        "levels": levels, "codebook_size": codebook_size, "resolution": "suffix",
    });
    let mut text = format!("{}\n", json!({ "table": header }));
    for (id, codes) in entries {
        text.push_str(&format!("{}\n", json!({ "id": id, "codes": codes })));
    }
    IdTable::from_jsonl(&text).unwrap()
}

/// Two levels of four codes; integer and string ids (one needing CSV quotes), a tuple with two
/// items (disambiguation codes 0 and 1) and one whose only item has code 2.
fn small() -> IdTable {
    table(
        2,
        4,
        &[
            (json!(7), vec![1, 2, 0]),
            (json!("B00X"), vec![1, 2, 1]),
            (json!(3), vec![1, 3, 0]),
            (json!("a,b"), vec![0, 0, 0]),
            (json!(-5), vec![3, 1, 2]),
        ],
    )
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_vocabulary_gives_each_level_a_block_and_the_disambiguation_level_the_codes_in_use() {
    let v = vocabulary(&small(), 0).unwrap();
    assert_eq!(v.format, "rqvae-vocabulary");
    assert_eq!(v.version, 1);
    assert_eq!(v.model, FINGERPRINT);
    assert_eq!((v.codebook_size, v.token_offset, v.size), (4, 0, 11));
    let level = |letter: &str, offset, size| LevelTokens {
        letter: letter.into(),
        offset,
        size,
    };
    // The largest disambiguation code is 2, so `c` has three tokens.
    assert_eq!(
        v.levels,
        [level("a", 0, 4), level("b", 4, 4), level("c", 8, 3)]
    );
    let expected: Vec<&str> = vec![
        "<a_0>", "<a_1>", "<a_2>", "<a_3>", "<b_0>", "<b_1>", "<b_2>", "<b_3>", "<c_0>", "<c_1>",
        "<c_2>",
    ];
    assert_eq!(v.tokens, expected);
    // The file is the same content.
    let file: rqvae::ids::vocabulary::Vocabulary =
        serde_json::from_str(&vocabulary_json(&small(), 0).unwrap()).unwrap();
    assert_eq!(file, v);
}

#[test]
fn every_token_string_of_the_table_is_its_token_id_in_the_vocabulary() {
    let t = small();
    for offset in [0, 1000] {
        let v = vocabulary(&t, offset).unwrap();
        for line in tokens_jsonl(&t, offset).unwrap().lines() {
            let item = parse(line);
            let strings: Vec<String> = item["tokens"]
                .as_str()
                .unwrap()
                .split_inclusive('>')
                .map(String::from)
                .collect();
            let ids: Vec<u64> = serde_json::from_value(item["token_ids"].clone()).unwrap();
            let looked_up: Vec<&String> = ids
                .iter()
                .map(|&id| &v.tokens[(id - v.token_offset) as usize])
                .collect();
            assert_eq!(looked_up, strings.iter().collect::<Vec<_>>(), "{line}");
        }
    }
}

#[test]
fn item_tokens_keep_integer_and_string_ids_as_the_table_holds_them() {
    let t = small();
    assert_eq!(
        tokens_jsonl(&t, 0).unwrap(),
        concat!(
            "{\"id\":7,\"tokens\":\"<a_1><b_2><c_0>\",\"token_ids\":[1,6,8]}\n",
            "{\"id\":\"B00X\",\"tokens\":\"<a_1><b_2><c_1>\",\"token_ids\":[1,6,9]}\n",
            "{\"id\":3,\"tokens\":\"<a_1><b_3><c_0>\",\"token_ids\":[1,7,8]}\n",
            "{\"id\":\"a,b\",\"tokens\":\"<a_0><b_0><c_0>\",\"token_ids\":[0,4,8]}\n",
            "{\"id\":-5,\"tokens\":\"<a_3><b_1><c_2>\",\"token_ids\":[3,5,10]}\n",
        )
    );
    assert_eq!(
        tokens_csv(&t, 0).unwrap(),
        concat!(
            "item_id,tokens,token_ids\n",
            "7,<a_1><b_2><c_0>,1 6 8\n",
            "B00X,<a_1><b_2><c_1>,1 6 9\n",
            "3,<a_1><b_3><c_0>,1 7 8\n",
            "\"a,b\",<a_0><b_0><c_0>,0 4 8\n",
            "-5,<a_3><b_1><c_2>,3 5 10\n",
        )
    );
    // The streaming form writes the same bytes.
    let mut streamed = Vec::new();
    write_tokens_jsonl(&t, 0, &mut streamed).unwrap();
    assert_eq!(
        String::from_utf8(streamed).unwrap(),
        tokens_jsonl(&t, 0).unwrap()
    );
}

#[test]
fn the_prefix_tree_allows_exactly_the_continuations_of_the_tables_ids() {
    let tree = parse(&prefix_tree_json(&small(), 0).unwrap());
    assert_eq!(
        tree,
        json!({
            "format": "rqvae-prefix-tree", "version": 1, "model": FINGERPRINT,
            "depth": 3, "token_offset": 0,
            "next": {
                "": [0, 1, 3],
                "0": [4], "0,4": [8],
                "1": [6, 7], "1,6": [8, 9], "1,7": [8],
                "3": [5], "3,5": [10],
            },
            "items": {
                "0,4,8": "a,b", "1,6,8": 7, "1,6,9": "B00X", "1,7,8": 3, "3,5,10": -5,
            },
        })
    );
}

#[test]
fn the_token_offset_shifts_every_token_id_and_nothing_else() {
    let t = small();
    let v0 = vocabulary(&t, 0).unwrap();
    let v = vocabulary(&t, 50_000).unwrap();
    assert_eq!(v.token_offset, 50_000);
    assert_eq!(
        (v.size, &v.levels, &v.tokens),
        (v0.size, &v0.levels, &v0.tokens)
    );
    let shift = |key: &str| -> String {
        key.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| (s.parse::<u64>().unwrap() + 50_000).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let tree0 = parse(&prefix_tree_json(&t, 0).unwrap());
    let tree = parse(&prefix_tree_json(&t, 50_000).unwrap());
    assert_eq!(tree["token_offset"], 50_000);
    let next0 = tree0["next"].as_object().unwrap();
    let next = tree["next"].as_object().unwrap();
    assert_eq!(next.len(), next0.len());
    for (key, allowed) in next0 {
        let shifted: Vec<u64> = allowed
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_u64().unwrap() + 50_000)
            .collect();
        assert_eq!(next[&shift(key)], json!(shifted), "key {key:?}");
    }
    for (key, item) in tree0["items"].as_object().unwrap() {
        assert_eq!(&tree["items"][&shift(key)], item);
    }
    let line = tokens_jsonl(&t, 50_000).unwrap();
    let first = parse(line.lines().next().unwrap());
    assert_eq!(first["token_ids"], json!([50_001, 50_006, 50_008]));
    assert_eq!(first["tokens"], "<a_1><b_2><c_0>");
}

#[test]
fn a_token_offset_that_puts_ids_past_2_to_the_53_is_refused() {
    let t = small();
    // The last of the 11 ids lands exactly on the limit: allowed.
    assert!(TokenLayout::new(&t, MAX_TOKEN_ID - 10).is_ok());
    let err = prefix_tree_json(&t, MAX_TOKEN_ID - 9).unwrap_err();
    assert!(
        matches!(err, ExportError::TokenIdRange { size: 11, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("give a smaller token offset"),
        "{err}"
    );
    assert!(tokens_csv(&t, u64::MAX).is_err());
}

#[test]
fn an_empty_table_has_a_root_that_allows_nothing() {
    let t = table(3, 256, &[]);
    let tree = parse(&prefix_tree_json(&t, 0).unwrap());
    assert_eq!(tree["next"], json!({ "": [] }));
    assert_eq!(tree["items"], json!({}));
    assert_eq!(tree["depth"], 4);
    let v = vocabulary(&t, 0).unwrap();
    assert_eq!(v.size, 3 * 256 + 1, "the disambiguation level keeps <d_0>");
    assert_eq!(v.tokens.last().unwrap(), "<d_0>");
    assert_eq!(tokens_csv(&t, 0).unwrap(), "item_id,tokens,token_ids\n");
}

/// A pseudo-random table: many shared prefixes (3 levels of 6 codes for 600 items), ids of both
/// kinds, entries in no particular order.
fn generated() -> IdTable {
    let mut seed = 12345u32;
    let mut next = || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) % 6
    };
    let mut seen = BTreeMap::new();
    let mut entries = Vec::new();
    while entries.len() < 600 {
        let tuple = vec![next(), next(), next()];
        let suffix = seen.entry(tuple.clone()).or_insert(0u32);
        let mut codes = tuple;
        codes.push(*suffix);
        *suffix += 1;
        let n = entries.len();
        let id = if n % 3 == 0 {
            json!(format!("item-{n}"))
        } else {
            json!(n)
        };
        entries.push((id, codes));
    }
    table(3, 6, &entries)
}

#[test]
fn every_items_path_walks_the_tree_to_its_id_and_only_valid_continuations_are_allowed() {
    let t = generated();
    let offset = 32_000;
    let layout = TokenLayout::new(&t, offset).unwrap();
    let tree = parse(&prefix_tree_json(&t, offset).unwrap());
    let next = tree["next"].as_object().unwrap();
    let items = tree["items"].as_object().unwrap();
    // What the table allows after each prefix, by brute force.
    let mut expected: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let key = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    for e in t.entries() {
        let ids: Vec<u64> = layout.token_ids(e.codes).collect();
        for depth in 0..ids.len() {
            expected
                .entry(key(&ids[..depth]))
                .or_default()
                .insert(ids[depth]);
        }
        // Walking the item's own tokens: every step allowed, and the end names the item.
        for depth in 0..ids.len() {
            let allowed = next[&key(&ids[..depth])].as_array().unwrap();
            assert!(
                allowed.contains(&json!(ids[depth])),
                "{:?} at {depth}",
                e.codes
            );
        }
        assert_eq!(items[&key(&ids)], e.id.to_json());
    }
    assert_eq!(items.len(), t.len());
    assert_eq!(
        next.len(),
        expected.len(),
        "one key per prefix in use, no more"
    );
    for (prefix, allowed) in &expected {
        let listed: Vec<u64> = serde_json::from_value(next[prefix].clone()).unwrap();
        assert_eq!(
            listed,
            allowed.iter().copied().collect::<Vec<_>>(),
            "{prefix:?}"
        );
    }
    // A prefix outside the table is no key: nothing may follow it.
    assert!(!next.contains_key(&key(&[offset + 6, offset + 6])));
    // Keys run depth first (a parent right before its first child), so the text is streamable.
    let text = prefix_tree_json(&t, offset).unwrap();
    let mut streamed = Vec::new();
    write_prefix_tree_json(&t, offset, &mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), text);
    let keys: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "\"next\":{")
        .skip(1)
        .take_while(|l| !l.starts_with('}'))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(keys.len(), next.len());
    assert_eq!(keys[0], "");
    assert_eq!(keys[1], format!("{}", offset));
    assert!(keys[2].starts_with(&format!("{},", offset)));
}
