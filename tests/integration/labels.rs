//! Prefix labels from titles (`rqvae::ids::labels`): distinctive terms on hand-made groups, the
//! label-quality check on the shipped sample, and the labels file's checks.

use crate::data;
use rqvae::ids::canonical::encode_rows;
use rqvae::ids::labels::{
    prefix_labels, title_terms, LabelOptions, LabelsError, LabelsFile, PrefixLabel,
};
use rqvae::HostModel;
use std::collections::{BTreeMap, HashMap};

fn label<'a>(labels: &'a [PrefixLabel], prefix: &[u32]) -> &'a PrefixLabel {
    labels
        .iter()
        .find(|l| l.prefix == prefix)
        .expect("a label for the prefix")
}

#[test]
fn title_terms_are_lower_case_words_without_stop_words_or_single_letters() {
    assert_eq!(
        title_terms("Castlevania: Symphony of the Night (PS1) - Assassin's Creed 2 & X"),
        [
            "castlevania",
            "symphony",
            "night",
            "ps1",
            "assassins",
            "creed"
        ]
    );
    assert_eq!(title_terms("Pokémon Émeraude"), ["pokémon", "émeraude"]);
    assert!(title_terms(" - : ").is_empty());
}

#[test]
fn a_prefix_is_named_by_what_sets_it_apart_from_its_siblings_not_by_what_all_share() {
    // Three level-A groups whose titles all say "game"; below A = 0, two B groups.
    let items: &[(&[u32], Option<&str>)] = &[
        (&[0, 0], Some("Castlevania Game Symphony")),
        (&[0, 0], Some("Symphony Game Aria")),
        (&[0, 1], Some("Castlevania Game Dracula Dracula")),
        (&[1, 0], Some("Mario Kart Game")),
        (&[1, 0], Some("Mario Party Game")),
        (&[1, 0], None),
        (&[2, 0], Some("Zelda Game")),
        (&[2, 0], Some("")),
    ];
    let codes: Vec<u32> = items.iter().flat_map(|(c, _)| c.iter().copied()).collect();
    let titles: Vec<Option<&str>> = items.iter().map(|(_, t)| *t).collect();
    let labels = prefix_labels(&codes, 2, &titles, LabelOptions { terms: 1 });

    assert_eq!(label(&labels, &[0]).label, "castlevania");
    assert_eq!(label(&labels, &[1]).label, "mario");
    let zelda = label(&labels, &[2]);
    assert_eq!(
        (zelda.label.as_str(), zelda.items, zelda.titled),
        ("zelda", 2, 1)
    );
    let mario = label(&labels, &[1]);
    assert_eq!((mario.items, mario.titled), (3, 2));
    // Under A = 0 "castlevania" and "game" are in both B groups: each is named by its own words.
    assert_eq!(label(&labels, &[0, 0]).label, "symphony");
    assert_eq!(label(&labels, &[0, 1]).label, "dracula");
    // Every prefix of every level is labelled, level by level in code order.
    let prefixes: Vec<&[u32]> = labels.iter().map(|l| l.prefix.as_slice()).collect();
    let expected: &[&[u32]] = &[&[0], &[1], &[2], &[0, 0], &[0, 1], &[1, 0], &[2, 0]];
    assert_eq!(prefixes, expected);
}

#[test]
fn a_prefix_without_titles_gets_an_empty_label_and_two_terms_are_joined() {
    let labels = prefix_labels(
        &[0, 1, 1],
        1,
        &[
            None,
            Some("Metroid Prime Trilogy"),
            Some("Metroid Prime Hunters"),
        ],
        LabelOptions::default(),
    );
    assert_eq!(label(&labels, &[0]).label, "");
    assert!(label(&labels, &[0]).terms.is_empty());
    assert_eq!(label(&labels, &[1]).label, "metroid · prime");
}

/// The sample's titles, in row order.
fn sample_titles() -> Vec<String> {
    std::fs::read_to_string(data::sample_items())
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["title"].as_str().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn on_the_sample_each_level_a_label_is_frequent_in_its_prefix_and_rarer_in_its_siblings() {
    // The check: the label's first term is among the 5 most frequent terms of the prefix's
    // titles, and its share of the prefix's items is at least twice its share of all other
    // items. Prefixes of fewer than 5 items are too small to judge.
    let x = data::sample();
    let host = HostModel::new(&data::default_model()).unwrap();
    let levels = host.levels();
    let codes = encode_rows(&host, x.as_slice(), x.rows());
    let titles = sample_titles();
    assert_eq!(titles.len(), x.rows());
    let title_refs: Vec<Option<&str>> = titles.iter().map(|t| Some(t.as_str())).collect();
    let labels = prefix_labels(&codes, levels, &title_refs, LabelOptions::default());

    let terms: Vec<Vec<String>> = titles.iter().map(|t| title_terms(t)).collect();
    let (mut judged, mut good) = (0, 0);
    for l in labels
        .iter()
        .filter(|l| l.prefix.len() == 1 && l.items >= 5)
    {
        let inside: Vec<usize> = (0..x.rows())
            .filter(|&i| codes[i * levels] == l.prefix[0])
            .collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for &i in &inside {
            for t in &terms[i] {
                *counts.entry(t.as_str()).or_insert(0) += 1;
            }
        }
        let mut ranked: Vec<(usize, &str)> = counts.iter().map(|(t, &n)| (n, *t)).collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let top = &l.terms[0];
        let frequent = ranked.iter().take(5).any(|(_, t)| t == top);
        let has = |i: &usize| terms[*i].contains(top);
        let share_in = inside.iter().filter(|i| has(i)).count() as f64 / inside.len() as f64;
        let outside = x.rows() - inside.len();
        let share_out = (0..x.rows())
            .filter(|i| codes[i * levels] != l.prefix[0] && has(i))
            .count() as f64
            / outside as f64;
        judged += 1;
        if frequent && share_in >= 2.0 * share_out {
            good += 1;
        }
    }
    eprintln!("level-A labels passing the check: {good} of {judged}");
    assert!(
        judged >= 50,
        "only {judged} level-A prefixes of 5 or more items"
    );
    // Not every prefix can pass: a prefix of mixed items has no term most of them share.
    assert!(
        good * 10 >= judged * 9,
        "{good} of {judged} level-A labels pass the check"
    );
}

#[test]
fn a_labels_file_keeps_its_names_and_refuses_another_tables_or_a_bad_key() {
    let mut file = LabelsFile::new("fp-1", 3);
    file.rename(&[51], "  Castlevania ").unwrap();
    file.rename(&[51, 3], "Castlevania: handheld").unwrap();
    file.rename(&[7], "Mario").unwrap();
    file.rename(&[7], " ").unwrap();
    assert_eq!(file.name(&[51]), Some("Castlevania"));
    assert_eq!(
        file.name(&[7]),
        None,
        "a blank name gives the automatic label back"
    );
    assert!(matches!(
        file.rename(&[1, 2, 3, 4], "too deep"),
        Err(LabelsError::Key { .. })
    ));

    let text = file.to_json();
    assert_eq!(LabelsFile::from_json(&text, "fp-1").unwrap(), file);
    let err = LabelsFile::from_json(&text, "fp-2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the labels were made for the table of model fp-1, but this table's model is fp-2"
    );
    let bad_key = text.replace("\"51/3\"", "\"51/x\"");
    assert!(matches!(
        LabelsFile::from_json(&bad_key, "fp-1"),
        Err(LabelsError::Key { .. })
    ));
    let other = text.replace("rqvae-labels", "rqvae-id-table");
    assert!(LabelsFile::from_json(&other, "fp-1")
        .unwrap_err()
        .to_string()
        .contains("format is \"rqvae-id-table\""));
    assert!(matches!(
        LabelsFile::from_json("{", "fp-1"),
        Err(LabelsError::Json(_))
    ));

    // Names given whole (the npm package's way) are trimmed and checked alike.
    let names = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let made = LabelsFile::with_names("fp-1", 3, names(&[("51", " Castlevania ")])).unwrap();
    assert_eq!(made.name(&[51]), Some("Castlevania"));
    assert_eq!(
        LabelsFile::with_names("fp-1", 3, names(&[("51/3", "  ")])).unwrap_err(),
        LabelsError::EmptyName { key: "51/3".into() }
    );
    assert!(matches!(
        LabelsFile::with_names("fp-1", 3, names(&[("", "root")])),
        Err(LabelsError::Key { .. })
    ));
}
