//! ID tables on the real sample with the default model: uniqueness, the resolution rule,
//! incremental growth, the model check, the file format and its errors, exports and reports.

use crate::data::{self, default_model as default_weights};
use rqvae::ids::assign::{assign, AssignOptions, Assignment};
use rqvae::ids::fingerprint::model_fingerprint;
use rqvae::ids::quality::{churn, table_quality};
use rqvae::ids::table::{read_item_ids, IdTable, ItemId, Resolution, TableError};
use rqvae::{Embeddings, HostModel};
use std::collections::{HashMap, HashSet};

/// The sample's first 2,000 rows and their item ids.
fn sample() -> (Embeddings, Vec<ItemId>) {
    let x = data::sample_rows(2000);
    let mut ids =
        read_item_ids(&std::fs::read_to_string(data::sample_items()).unwrap()).expect("sample ids");
    ids.truncate(2000);
    (x, ids)
}

fn rows(x: &Embeddings, start: usize, end: usize) -> Embeddings {
    Embeddings::new(x.slice_rows(start, end).to_vec(), x.dim()).unwrap()
}

fn new_table(host: &HostModel, resolution: Resolution) -> IdTable {
    IdTable::new(
        host.fingerprint(),
        host.levels(),
        host.codebook_size(),
        resolution,
    )
    .unwrap()
}

fn assigned(host: &HostModel, x: &Embeddings, ids: &[ItemId], resolution: Resolution) -> IdTable {
    let mut table = new_table(host, resolution);
    assign(&mut table, host, x, ids, AssignOptions::default()).unwrap();
    table
}

#[test]
fn every_item_gets_a_unique_id_and_reassignment_keeps_the_prefix() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let mut table = new_table(&host, Resolution::Reassign);
    let report = assign(&mut table, &host, &x, &ids, AssignOptions::default()).unwrap();
    assert_eq!(table.len(), 2000);
    assert_eq!(report.unique_full, 1.0);
    let full: HashSet<&[u32]> = table.entries().map(|e| e.codes).collect();
    assert_eq!(full.len(), 2000);
    // The sample has duplicate titles, so the model's own codes collide and some items move.
    assert!(report.unique_nearest < 1.0, "{report:?}");
    assert!(report.moved > 0);
    assert_eq!(report.unique_assigned, 1.0);
    let nearest = host.encode(x.as_slice(), x.rows());
    for (row, e) in table.entries().enumerate() {
        assert_eq!(e.id, ids[row], "table order is row order");
        assert_eq!(e.nearest(), nearest[row * 3..row * 3 + 3], "row {row}");
        assert_eq!(
            e.tuple()[..2],
            nearest[row * 3..row * 3 + 2],
            "prefix kept, row {row}"
        );
        assert_eq!(e.reassigned_from.is_some(), e.tuple() != e.nearest());
    }
    let cost = report.cost.expect("the default model has a decoder");
    assert!(cost.moved_cosine_assigned <= cost.moved_cosine_nearest + 1e-9);
    assert!(
        cost.cosine_assigned > cost.cosine_nearest - 0.01,
        "{cost:?}"
    );
}

#[test]
fn a_moved_item_takes_the_best_scoring_code_that_was_free_when_served() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let table = assigned(&host, &x, &ids, Resolution::Reassign);
    let (_, scores) = host.encode_with_last_scores(x.as_slice(), x.rows());
    let mut first_holder: HashMap<Vec<u32>, usize> = HashMap::new();
    for (row, e) in table.entries().enumerate() {
        first_holder.entry(e.tuple().to_vec()).or_insert(row);
    }
    let mut moved = 0;
    for (row, e) in table.entries().enumerate() {
        let Some(from) = e.reassigned_from else {
            continue;
        };
        moved += 1;
        let s = &scores[row * 256..(row + 1) * 256];
        let to = e.tuple()[2];
        assert!(
            s[to as usize] >= s[from as usize],
            "row {row} moved to a better code"
        );
        // Every code the model ranks above the chosen one was held by an earlier item.
        for c in 0..256u32 {
            let better =
                s[c as usize] < s[to as usize] || (s[c as usize] == s[to as usize] && c < to);
            if better {
                let tuple = vec![e.tuple()[0], e.tuple()[1], c];
                let holder = first_holder.get(&tuple).copied();
                assert!(
                    holder.is_some_and(|h| h < row),
                    "row {row}: code {c} ranks above {to} and was free"
                );
            }
        }
    }
    assert!(moved > 0);
}

#[test]
fn suffix_policy_keeps_nearest_codes_and_numbers_duplicates_in_row_order() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let table = assigned(&host, &x, &ids, Resolution::Suffix);
    let mut next: HashMap<Vec<u32>, u32> = HashMap::new();
    let nearest = host.encode(x.as_slice(), x.rows());
    for (row, e) in table.entries().enumerate() {
        assert_eq!(e.tuple(), &nearest[row * 3..row * 3 + 3]);
        assert_eq!(e.reassigned_from, None);
        let d = next.entry(e.tuple().to_vec()).or_insert(0);
        assert_eq!(e.suffix(), *d, "row {row}");
        *d += 1;
    }
    let q = table_quality(&table);
    assert_eq!(q.unique_full_fraction, 1.0);
    assert!(q.suffixed > 0 && q.largest_group > 1);
    assert!(q.collision_free_rate < 1.0);
}

#[test]
fn growing_a_table_keeps_every_line_and_equals_assigning_in_one_go() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let one_go = assigned(&host, &x, &ids, Resolution::Reassign);
    let mut grown = assigned(
        &host,
        &rows(&x, 0, 1500),
        &ids[..1500],
        Resolution::Reassign,
    );
    let before = grown.to_jsonl();
    let report = assign(
        &mut grown,
        &host,
        &rows(&x, 1500, 2000),
        &ids[1500..],
        AssignOptions::default(),
    )
    .unwrap();
    assert_eq!((report.added, report.kept), (500, 0));
    assert!(grown.to_jsonl().starts_with(&before));
    assert_eq!(grown.to_jsonl(), one_go.to_jsonl());
    assert_eq!(churn(&one_go, &grown).changed, 0);
}

#[test]
fn existing_ids_keep_their_id_and_changed_embeddings_are_reported() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let mut table = assigned(&host, &x, &ids, Resolution::Reassign);
    let original = table.clone();
    // Items 0..50 again, but with the embeddings of rows 1000..1050.
    let swapped = rows(&x, 1000, 1050);
    let report = assign(
        &mut table,
        &host,
        &swapped,
        &ids[..50],
        AssignOptions::default(),
    )
    .unwrap();
    assert_eq!(table, original, "no line changes without reassign_changed");
    assert_eq!(report.added, 0);
    assert!(!report.changed.is_empty());
    assert_eq!(report.kept, 50);
    let changed: HashSet<ItemId> = report.changed.iter().cloned().collect();

    let report = assign(
        &mut table,
        &host,
        &swapped,
        &ids[..50],
        AssignOptions {
            reassign_changed: true,
        },
    )
    .unwrap();
    assert_eq!(report.reassigned_changed, changed.len());
    let c = churn(&original, &table);
    assert!(c.changed > 0 && c.changed <= changed.len(), "{c:?}");
    assert!(table.entries().len() >= original.entries().len());
    for (old, new) in original.entries().zip(table.entries()) {
        if !changed.contains(&old.id) {
            assert_eq!(old, new, "an unchanged item kept its line");
        }
    }
    assert_eq!(table_quality(&table).unique_full_fraction, 1.0);
}

#[test]
fn a_table_from_a_model_that_differs_in_one_value_is_refused() {
    let weights = default_weights();
    let host = HostModel::new(&weights).unwrap();
    let (x, ids) = sample();
    let mut table = assigned(&host, &rows(&x, 0, 100), &ids[..100], Resolution::Reassign);
    let before = table.clone();
    let mut other = weights.clone();
    other.encoder[1].weight[5] += 1e-3;
    let other_host = HostModel::new(&other).unwrap();
    let err = assign(
        &mut table,
        &other_host,
        &rows(&x, 100, 200),
        &ids[100..200],
        AssignOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, TableError::ModelMismatch { .. }), "{err}");
    assert!(err.to_string().contains(other_host.fingerprint()));
    assert_eq!(table, before);
}

#[test]
fn the_fingerprint_covers_what_decides_ids_and_nothing_else() {
    let weights = default_weights();
    let fp = model_fingerprint(&weights);
    assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64);
    assert_eq!(model_fingerprint(&weights.clone().without_decoder()), fp);
    let mut codebook = weights.clone();
    codebook.codebooks[2][17] = -codebook.codebooks[2][17];
    assert_ne!(model_fingerprint(&codebook), fp);
}

#[test]
fn the_jsonl_round_trips_and_every_line_has_id_and_codes() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let table = assigned(&host, &x, &ids, Resolution::Reassign);
    let text = table.to_jsonl();
    assert_eq!(IdTable::from_jsonl(&text).unwrap(), table);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["id"].is_i64());
        assert_eq!(v["codes"].as_array().unwrap().len(), 4);
        assert!(v["tokens"].as_str().unwrap().starts_with("<a_"));
    }
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["table"]["format"], "rqvae-id-table");
    assert_eq!(first["table"]["model"], host.fingerprint());
    // The header may sit on any one line (a sorted file still loads).
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    assert_eq!(IdTable::from_jsonl(&lines.join("\n")).unwrap().len(), 2000);
}

fn load_error(text: &str) -> String {
    IdTable::from_jsonl(text).unwrap_err().to_string()
}

#[test]
fn loading_a_broken_table_names_the_line_and_the_problem() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let text = assigned(&host, &rows(&x, 0, 5), &ids[..5], Resolution::Reassign).to_jsonl();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let with = |i: usize, line: &str| {
        let mut l = lines.clone();
        l[i] = line.to_string();
        l.join("\n")
    };
    let entry = |line: &str| -> serde_json::Value { serde_json::from_str(line).unwrap() };
    let e2 = entry(&lines[2]);
    let codes = e2["codes"].clone();

    assert!(load_error(&with(3, "{not json")).starts_with("line 4: not valid JSON"));
    assert_eq!(
        load_error(&with(
            3,
            &format!("{{\"id\":{},\"codes\":[1,2,3]}}", e2["id"])
        )),
        "line 4: 3 codes, expected 4 (3 levels and the disambiguation code)"
    );
    assert_eq!(
        load_error(&with(3, "{\"id\":1.5,\"codes\":[1,2,3,0]}")),
        "line 4: id 1.5 is not an integer in the 64-bit range; give it as a string"
    );
    assert_eq!(
        load_error(&with(3, "{\"id\":77,\"codes\":[1,256,3,0]}")),
        "line 4: code 256 at level 1 is outside the codebook (size 256)"
    );
    assert_eq!(
        load_error(&with(
            3,
            &format!("{{\"id\":{},\"codes\":[1,2,3,0]}}", e2["id"])
        )),
        format!("id {} appears twice: lines 3 and 4", e2["id"])
    );
    let code_list: Vec<u32> = serde_json::from_value(codes.clone()).unwrap();
    assert_eq!(
        load_error(&with(3, &format!("{{\"id\":99,\"codes\":{codes}}}"))),
        format!("ID {code_list:?} is given to two items: lines 3 and 4")
    );
    assert!(load_error(&with(
        3,
        "{\"id\":99,\"codes\":[1,2,3,0],\"tokens\":\"<a_1>\"}"
    ))
    .starts_with("line 4: tokens \"<a_1>\" do not match codes [1, 2, 3, 0]"));
    assert!(load_error(&lines[1..].join("\n")).starts_with("no line holds the table header"));
    let header = entry(&lines[0])["table"].clone();
    let extra = format!("{{\"table\":{header}}}");
    assert_eq!(
        load_error(&format!("{text}{extra}\n")),
        "lines 1 and 6 both hold a table header; a table has one"
    );
    let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
    assert_eq!(
        load_error(&v2),
        "line 1: table format version 2 is not supported (this build reads version 1)"
    );
    let other = text.replacen("rqvae-id-table", "something-else", 1);
    assert!(load_error(&other).starts_with("line 1: table format is \"something-else\""));
}

#[test]
fn exports_hold_the_same_ids() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, _) = sample();
    let ids: Vec<ItemId> = (0..20)
        .map(|i| {
            ItemId::Str(if i == 3 {
                "a, \"b\"".into()
            } else {
                format!("sku-{i}")
            })
        })
        .collect();
    let table = assigned(&host, &rows(&x, 0, 20), &ids, Resolution::Reassign);
    let csv = table.to_csv();
    let mut csv_lines = csv.lines();
    assert_eq!(csv_lines.next(), Some("item_id,sid_0,sid_1,sid_2,sid_3"));
    let e = table.entry(3);
    let row3 = csv_lines.nth(3).unwrap();
    let codes: Vec<String> = e.codes.iter().map(u32::to_string).collect();
    assert_eq!(row3, format!("\"a, \"\"b\"\"\",{}", codes.join(",")));
    let lcrec: serde_json::Value = serde_json::from_str(&table.to_lcrec_json()).unwrap();
    let map = lcrec.as_object().unwrap();
    assert_eq!(map.len(), 20);
    for e in table.entries() {
        let ItemId::Str(key) = &e.id else {
            unreachable!()
        };
        let tokens: Vec<&str> = map[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tokens.concat(), e.tokens());
        assert_eq!(tokens.len(), 4);
    }
}

#[test]
fn items_files_are_checked_line_by_line() {
    assert_eq!(
        read_item_ids("{\"id\":1}\n{\"id\":\"x\"}\n\n").unwrap(),
        vec![ItemId::Int(1), ItemId::Str("x".into())]
    );
    let err = |t: &str| read_item_ids(t).unwrap_err().to_string();
    assert_eq!(
        err("{\"id\":1}\n\n{\"id\":2}\n"),
        "line 2: blank line: line i must name row i"
    );
    assert_eq!(err("{\"id\":1}\n{\"title\":\"x\"}\n"), "line 2: no \"id\"");
    assert_eq!(
        err("{\"id\":1}\n{\"id\":1}\n"),
        "id 1 appears twice: lines 1 and 2"
    );
    assert_eq!(
        err("{\"id\":null}\n"),
        "line 1: id must be an integer or a string, found null"
    );
    assert_eq!(
        err("[1]\n"),
        "line 1: expected a JSON object, found an array"
    );
}

#[test]
fn row_numbers_continue_after_the_table_and_never_take_an_existing_id() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, _) = sample();
    let mut table = new_table(&host, Resolution::Reassign);
    let first = table.row_number_ids(10).unwrap();
    assign(
        &mut table,
        &host,
        &rows(&x, 0, 10),
        &first,
        AssignOptions::default(),
    )
    .unwrap();
    assert_eq!(
        table.row_number_ids(2).unwrap(),
        vec![ItemId::Int(10), ItemId::Int(11)]
    );
    let mut odd = new_table(&host, Resolution::Reassign);
    assign(
        &mut odd,
        &host,
        &rows(&x, 0, 1),
        &[ItemId::Int(1)],
        AssignOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        odd.row_number_ids(1),
        Err(TableError::RowNumberTaken { .. })
    ));
}

#[test]
fn bad_requests_leave_the_table_unchanged() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    let mut table = assigned(&host, &rows(&x, 0, 10), &ids[..10], Resolution::Reassign);
    let before = table.clone();
    let some = rows(&x, 10, 13);
    let e = assign(
        &mut table,
        &host,
        &some,
        &ids[10..12],
        AssignOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 ids for 3 embedding rows: give one id per row"
    );
    let dup = [ids[10].clone(), ids[11].clone(), ids[10].clone()];
    let e = assign(&mut table, &host, &some, &dup, AssignOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "id {} is given to rows 0 and 2; ids must be unique",
            ids[10]
        )
    );
    assert_eq!(table, before);
}

/// Rows served chunk by chunk after a first pass for their nearest codes, as `rqvae-train
/// assign` does to keep memory bounded.
fn assign_in_chunks(
    table: &mut IdTable,
    host: &HostModel,
    x: &Embeddings,
    ids: &[ItemId],
    options: AssignOptions,
    chunk: usize,
) -> rqvae::ids::assign::AssignReport {
    let nearest = rqvae::ids::canonical::encode(host, x);
    let ids = rqvae::ids::item_ids::ItemIds::from(ids);
    let mut run = Assignment::plan(table, host, &nearest, &ids, options).unwrap();
    for first in (0..x.rows()).step_by(chunk) {
        let end = (first + chunk).min(x.rows());
        run.serve(table, host, &rows(x, first, end), first);
    }
    run.finish(table)
}

#[test]
fn chunked_assignment_equals_one_go_for_tables_and_reports() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, ids) = sample();
    for resolution in [Resolution::Reassign, Resolution::Suffix] {
        let mut whole = new_table(&host, resolution);
        let whole_report = assign(&mut whole, &host, &x, &ids, AssignOptions::default()).unwrap();
        for chunk in [1, 333, 2000] {
            let mut chunked = new_table(&host, resolution);
            let report = assign_in_chunks(
                &mut chunked,
                &host,
                &x,
                &ids,
                AssignOptions::default(),
                chunk,
            );
            assert_eq!(
                chunked.to_jsonl(),
                whole.to_jsonl(),
                "{resolution:?}, {chunk}"
            );
            assert_eq!(report, whole_report, "{resolution:?}, chunks of {chunk}");
        }
    }
    // Re-assigning changed items releases all of their IDs before any row is served, in one go
    // and in chunks alike: items 0..300 come back with the embeddings of rows 1000..1300.
    let base = assigned(&host, &x, &ids, Resolution::Reassign);
    let swapped = rows(&x, 1000, 1300);
    let options = AssignOptions {
        reassign_changed: true,
    };
    let mut whole = base.clone();
    let whole_report = assign(&mut whole, &host, &swapped, &ids[..300], options).unwrap();
    assert!(whole_report.reassigned_changed > 0);
    let mut chunked = base.clone();
    let report = assign_in_chunks(&mut chunked, &host, &swapped, &ids[..300], options, 7);
    assert_eq!(chunked.to_jsonl(), whole.to_jsonl());
    assert_eq!(report, whole_report);
}

#[test]
fn a_table_of_integer_ids_that_gains_a_string_id_still_finds_every_item() {
    let host = HostModel::new(&default_weights()).unwrap();
    let (x, _) = sample();
    let mut ids: Vec<ItemId> = (0..40).map(ItemId::Int).collect();
    ids[25] = ItemId::Str("25".into());
    let table = assigned(&host, &rows(&x, 0, 40), &ids, Resolution::Reassign);
    for (row, id) in ids.iter().enumerate() {
        assert_eq!(table.position(id), Some(row), "{id}");
        assert_eq!(table.entry(row).id, *id);
    }
    // `25` the integer was never given, `"25"` the string was.
    assert_eq!(table.position(&ItemId::Int(25)), None);
    assert_eq!(IdTable::from_jsonl(&table.to_jsonl()).unwrap(), table);
}
