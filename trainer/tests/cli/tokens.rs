//! `rqvae-train tokens` and `card`: a table's exports for generative recommenders on the sample's
//! table, the model card with `eval`'s metrics and a run's recipe, the README's prefix-tree
//! reader run with python3, and refused input that leaves nothing written.

use crate::common::{assert_clean_failure, assert_success, data, run, s, scratch};
use rqvae::ids::item_tokens::{tokens_csv, tokens_jsonl};
use rqvae::ids::prefix_tree::prefix_tree_json;
use rqvae::ids::table::IdTable;
use rqvae::ids::vocabulary::{vocabulary_json, TokenLayout};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ID table of the whole shipped sample (www/sample) under the default model, assigned once
/// per test process.
fn sample_table() -> &'static Path {
    static TABLE: OnceLock<PathBuf> = OnceLock::new();
    TABLE.get_or_init(|| {
        let dir = scratch("tokens-sample-table");
        let table = dir.join("ids.jsonl");
        let model = data::default_model_path();
        let (npy, items) = (data::sample_npy(), data::sample_items());
        let out = run(&[
            "assign",
            "--model",
            s(&model),
            "--embeddings",
            s(&npy),
            "--items",
            s(&items),
            "--out",
            s(&table),
        ]);
        assert_success(&out);
        table
    })
}

fn load(path: &Path) -> IdTable {
    IdTable::from_jsonl(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// The files in `dir`, sorted (hidden temporary files included).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn tokens_writes_the_samples_vocabulary_item_tokens_and_prefix_tree_as_the_library_makes_them() {
    let dir = scratch("tokens-exports");
    let table_path = sample_table();
    let table = load(table_path);
    let out = dir.join("exports");
    let r = run(&[
        "tokens",
        "--table",
        s(table_path),
        "--out",
        s(&out),
        "--token-offset",
        "151643",
    ]);
    assert_success(&r);
    assert_eq!(
        listing(&out),
        [
            "prefix-tree.json",
            "tokens.csv",
            "tokens.jsonl",
            "vocabulary.json"
        ]
    );
    let offset = 151_643;
    assert_eq!(
        read(&out.join("vocabulary.json")),
        vocabulary_json(&table, offset).unwrap()
    );
    assert_eq!(
        read(&out.join("tokens.jsonl")),
        tokens_jsonl(&table, offset).unwrap()
    );
    assert_eq!(
        read(&out.join("tokens.csv")),
        tokens_csv(&table, offset).unwrap()
    );
    assert_eq!(
        read(&out.join("prefix-tree.json")),
        prefix_tree_json(&table, offset).unwrap()
    );
    // The vocabulary: three levels of 256 after the offset, then the disambiguation codes.
    let vocab = read_json(&out.join("vocabulary.json"));
    assert_eq!(vocab["model"], table.header().model.as_str());
    assert_eq!(vocab["levels"][3]["letter"], "d");
    assert_eq!(vocab["levels"][3]["offset"], 768);
    let max_suffix = table.entries().map(|e| e.suffix()).max().unwrap();
    assert_eq!(vocab["levels"][3]["size"], max_suffix + 1);
    assert_eq!(vocab["tokens"][768], "<d_0>");
    // Every item once, in table order, with its tokens.
    let lines: Vec<Value> = read(&out.join("tokens.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), data::SAMPLE_ROWS);
    let first = table.entry(0);
    assert_eq!(lines[0]["id"], first.id.to_json());
    assert_eq!(lines[0]["tokens"], first.tokens());
    let c = first.codes;
    assert_eq!(
        lines[0]["token_ids"],
        json!([
            offset + u64::from(c[0]),
            offset + 256 + u64::from(c[1]),
            offset + 512 + u64::from(c[2]),
            offset + 768 + u64::from(c[3])
        ])
    );
    let tree = read_json(&out.join("prefix-tree.json"));
    assert_eq!(tree["items"].as_object().unwrap().len(), data::SAMPLE_ROWS);
    assert!(String::from_utf8_lossy(&r.stderr).contains("3000 items"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tokens_with_the_model_writes_its_card_with_evals_metrics_and_the_runs_recipe() {
    let dir = scratch("tokens-card");
    let model = data::default_model_path();
    let npy = data::sample_npy();
    // A run directory as `train` leaves it, as far as the card reads it.
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let config = data::default_model().config;
    std::fs::write(run_dir.join("config.json"), config.to_json()).unwrap();
    let recipe = read(&data::repo_root().join("www/models/default.fine-tune-config.json"));
    std::fs::write(run_dir.join("train.json"), &recipe).unwrap();
    let origin = json!({ "model": "runs/base/model.safetensors", "fingerprint": "sha256:ab" });
    std::fs::write(run_dir.join("init_from.json"), origin.to_string()).unwrap();

    let out = dir.join("exports");
    let r = run(&[
        "tokens",
        "--table",
        s(sample_table()),
        "--out",
        s(&out),
        "--model",
        s(&model),
        "--embeddings",
        s(&npy),
        "--run",
        s(&run_dir),
    ]);
    assert_success(&r);
    let card = read_json(&out.join("model.json"));
    assert_eq!(card["format"], "rqvae-model-card");
    assert_eq!(card["model"], load(sample_table()).header().model.as_str());
    assert_eq!(card["config"]["input_dim"], 768);
    assert_eq!(card["precision"], "f16");
    assert_eq!(card["decoder"], true);
    assert!(card["parameters"]["decoder"].as_u64().unwrap() > 0);
    assert_eq!(
        card["run"]["recipe"],
        serde_json::from_str::<Value>(&recipe).unwrap()
    );
    assert_eq!(card["run"]["init_from"], origin);
    assert_eq!(card["run"]["sample"], Value::Null);
    // The metrics are `eval --json`'s, on the same embeddings.
    let eval_json = dir.join("eval.json");
    let e = run(&[
        "eval",
        "--model",
        s(&model),
        "--embeddings",
        s(&npy),
        "--json",
        s(&eval_json),
    ]);
    assert_success(&e);
    assert_eq!(card["metrics"], read_json(&eval_json));
    assert_eq!(card["metrics"]["items"], data::SAMPLE_ROWS);

    // `card` writes the same card on its own.
    let alone = dir.join("card.json");
    let c = run(&[
        "card",
        "--model",
        s(&model),
        "--run",
        s(&run_dir),
        "--out",
        s(&alone),
    ]);
    assert_success(&c);
    let mut expected = card.clone();
    expected["metrics"] = Value::Null;
    assert_eq!(read_json(&alone), expected);

    // A run of other sizes did not train this model.
    let other = dir.join("other-run");
    std::fs::create_dir_all(&other).unwrap();
    let mut sizes = config.clone();
    sizes.latent_dim = 16;
    std::fs::write(other.join("config.json"), sizes.to_json()).unwrap();
    std::fs::write(other.join("train.json"), &recipe).unwrap();
    let bad = dir.join("bad.json");
    let c = run(&[
        "card",
        "--model",
        s(&model),
        "--run",
        s(&other),
        "--out",
        s(&bad),
    ]);
    assert_clean_failure(&c, &[s(&other), "trained a model of other sizes"]);
    assert!(!bad.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tokens_refuses_a_file_that_is_no_table_another_model_and_an_unwritable_out_writing_nothing() {
    let dir = scratch("tokens-refused");
    let out = dir.join("exports");
    let npy = data::sample_npy();

    let r = run(&["tokens", "--table", s(&npy), "--out", s(&out)]);
    assert_clean_failure(&r, &[s(&npy), "not a usable ID table"]);
    assert!(!out.exists(), "nothing written for a bad table");

    // The text model's ID model made no table of the default model's.
    let other = data::repo_root().join("www/models/minilm.safetensors");
    let table = load(sample_table());
    let r = run(&[
        "tokens",
        "--table",
        s(sample_table()),
        "--out",
        s(&out),
        "--model",
        s(&other),
    ]);
    let theirs = rqvae::ids::fingerprint::model_fingerprint(
        &rqvae::ModelWeights::from_bytes(&std::fs::read(&other).unwrap()).unwrap(),
    );
    assert_clean_failure(
        &r,
        &[
            s(&other),
            s(sample_table()),
            &theirs,
            &table.header().model,
            "is not the model that made",
        ],
    );
    assert!(!out.exists(), "nothing written for another model");

    // --out under a regular file cannot be a directory.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let under = file.join("exports");
    let r = run(&["tokens", "--table", s(sample_table()), "--out", s(&under)]);
    assert_clean_failure(&r, &["cannot create output directory", s(&under)]);

    // A directory where one of the files goes: refused before any file replaces its old one.
    let existing = dir.join("existing");
    std::fs::create_dir_all(existing.join("prefix-tree.json")).unwrap();
    std::fs::write(existing.join("vocabulary.json"), "old").unwrap();
    let r = run(&[
        "tokens",
        "--table",
        s(sample_table()),
        "--out",
        s(&existing),
    ]);
    assert_clean_failure(
        &r,
        &[s(&existing.join("prefix-tree.json")), "is a directory"],
    );
    assert_eq!(read(&existing.join("vocabulary.json")), "old");
    assert_eq!(listing(&existing), ["prefix-tree.json", "vocabulary.json"]);

    // A token offset whose ids JavaScript could not read exactly.
    let r = run(&[
        "tokens",
        "--table",
        s(sample_table()),
        "--out",
        s(&out),
        "--token-offset",
        "9007199254740900",
    ]);
    assert_clean_failure(&r, &["--token-offset", "2^53"]);
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's constrained-decoding reader: the ```python block after the marker comment.
fn readme_reader() -> String {
    let readme = read(&data::repo_root().join("README.md"));
    let marker = "<!-- prefix-tree reader:";
    let after = &readme[readme
        .find(marker)
        .expect("README.md marks its prefix-tree reader")..];
    let start = after
        .find("```python\n")
        .expect("a python block after the marker")
        + 10;
    let end = start + after[start..].find("\n```").expect("the block ends");
    let code = after[start..end].to_string();
    assert!(
        code.lines().count() <= 20,
        "the README's reader stays short: {} lines",
        code.lines().count()
    );
    code
}

#[test]
fn the_readmes_prefix_tree_reader_allows_exactly_the_valid_continuations() {
    // The reader opens tokens/prefix-tree.json, where the README's command writes it.
    let dir = scratch("tokens-readme-reader");
    let offset = 1000u64;
    let r = run(&[
        "tokens",
        "--table",
        s(sample_table()),
        "--out",
        s(&dir.join("tokens")),
        "--token-offset",
        &offset.to_string(),
    ]);
    assert_success(&r);
    let table = load(sample_table());
    let layout = TokenLayout::new(&table, offset).unwrap();
    let paths: Vec<Vec<u64>> = table
        .entries()
        .map(|e| layout.token_ids(e.codes).collect())
        .collect();
    // What may follow a prefix: the next token of every ID that starts with it.
    let allowed = |prefix: &[u64]| -> Vec<u64> {
        let mut next: Vec<u64> = paths
            .iter()
            .filter(|p| p.starts_with(prefix) && p.len() > prefix.len())
            .map(|p| p[prefix.len()])
            .collect();
        next.sort_unstable();
        next.dedup();
        next
    };
    let item = &paths[17];
    let mut prefixes: Vec<Vec<u64>> = (0..item.len()).map(|d| item[..d].to_vec()).collect();
    // Not in the tree: the first level's code at the second position.
    prefixes.push(vec![item[0], item[0]]);
    std::fs::write(dir.join("reader.py"), readme_reader()).unwrap();
    let driver = format!(
        "import json, sys\nexec(open('reader.py').read())\nprefixes = {}\n\
         print(json.dumps({{'allowed': [allowed_tokens(p) for p in prefixes], \
         'done': allowed_tokens({full:?}), 'eos': allowed_tokens({full:?}, eos=2), \
         'item': item({full:?})}}))\n",
        serde_json::to_string(&prefixes).unwrap(),
        full = item,
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&driver)
        .current_dir(&dir)
        .output()
        .expect("python3 runs the README's reader (the tests need python3 on PATH)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: Vec<Vec<u64>> = prefixes.iter().map(|p| allowed(p)).collect();
    assert_eq!(got["allowed"], json!(expected));
    assert!(
        expected[..item.len()].iter().all(|a| !a.is_empty()),
        "each step of a real ID allows something"
    );
    assert_eq!(
        got["allowed"][item.len()],
        json!([]),
        "an invalid prefix allows nothing"
    );
    assert_eq!(got["done"], json!([]), "a complete ID allows nothing more");
    assert_eq!(got["eos"], json!([2]), "or only the end of the sequence");
    assert_eq!(got["item"], table.entry(17).id.to_json());
    std::fs::remove_dir_all(&dir).unwrap();
}
