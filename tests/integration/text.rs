//! The sentence encoder against Hugging Face's own pipeline: token ids equal to `tokenizers`,
//! vectors equal to sentence-transformers' (PyTorch) on catalog titles and edge cases; the burn
//! model against the host path; the bundle; and every kind of bad model refused by name.

use crate::data::{cosine, text_model_dir, text_reference};
use burn::backend::NdArray;
use rqvae::text::encoder::DirectoryFiles;
use rqvae::text::items::{ItemsFormat, ItemsReader};
use rqvae::text::{SentenceEncoder, TextModelError};
use std::sync::OnceLock;

/// The default text model, loaded once for the whole test binary.
fn encoder() -> &'static SentenceEncoder {
    static ENCODER: OnceLock<SentenceEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| SentenceEncoder::from_dir(&text_model_dir()).expect("the text model"))
}

/// Smallest and mean cosine between rows of `ours` and `theirs` (`dim` wide).
fn cosines(ours: &[f32], theirs: &[f32], dim: usize) -> (f64, f64) {
    let all: Vec<f64> = ours
        .chunks_exact(dim)
        .zip(theirs.chunks_exact(dim))
        .map(|(a, b)| cosine(a, b))
        .collect();
    let min = all.iter().copied().fold(f64::INFINITY, f64::min);
    (min, all.iter().sum::<f64>() / all.len() as f64)
}

#[test]
fn wordpiece_ids_equal_hugging_face_tokenizers_on_titles_and_edge_cases() {
    let reference = text_reference();
    for (text, expected) in reference.texts.iter().zip(&reference.token_ids) {
        let ours = encoder().tokenize(text).unwrap();
        assert_eq!(&ours, expected, "token ids of {text:?}");
    }
    // The 5,000-word title is cut at the model's 256 tokens, [SEP] last.
    let longest = reference.token_ids.iter().map(Vec::len).max().unwrap();
    assert_eq!(longest, 256);
    assert_eq!(encoder().tokenize("").unwrap(), vec![101, 102]);
}

#[test]
fn vectors_equal_sentence_transformers_on_titles_and_edge_cases() {
    let reference = text_reference();
    let ours = encoder().embed(&reference.texts).unwrap();
    let (min, mean) = cosines(&ours, &reference.embeddings, reference.dim);
    assert!(
        min >= 0.9999 && mean >= 0.99999,
        "cosine min {min}, mean {mean}"
    );
    // Unit length, as the model's Normalize module makes them.
    for row in ours.chunks_exact(reference.dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn a_text_gets_the_same_vector_alone_as_in_any_batch() {
    let reference = text_reference();
    let together = encoder().embed(&reference.texts).unwrap();
    let dim = reference.dim;
    for (i, text) in reference.texts.iter().enumerate().step_by(7) {
        let alone = encoder().embed(&[text]).unwrap();
        let worst = alone
            .iter()
            .zip(&together[i * dim..(i + 1) * dim])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "text {i}: largest difference {worst}");
    }
}

#[test]
fn the_burn_model_computes_what_the_host_path_computes() {
    // Texts of different lengths in one padded batch: the mask must hide the padding.
    let reference = text_reference();
    let tokens: Vec<Vec<u32>> = reference.token_ids[..12].to_vec();
    let host = encoder().embed_tokens(&tokens);
    let device = Default::default();
    let model = encoder().burn_model::<NdArray<f32>>(&device);
    let burn = encoder().embed_tokens_on(&model, &tokens, &device);
    let worst = crate::common::max_abs_diff(&host, &burn);
    assert!(worst < 1e-4, "largest difference {worst}");
}

#[test]
fn a_bundle_holds_the_whole_model_in_one_file_at_f16() {
    let reference = text_reference();
    let bytes = encoder().to_bundle();
    let bundled = SentenceEncoder::from_bundle(&bytes, "minilm.text.safetensors").unwrap();
    assert_eq!(bundled.config(), encoder().config());
    for text in &reference.texts {
        assert_eq!(bundled.tokenize(text), encoder().tokenize(text));
    }
    let ours = bundled.embed(&reference.texts).unwrap();
    let (min, mean) = cosines(&ours, &reference.embeddings, reference.dim);
    assert!(
        min >= 0.9999 && mean >= 0.99999,
        "cosine min {min}, mean {mean}"
    );
    // An RQ-VAE weights file is not a text model, and says so.
    let rqvae = std::fs::read(crate::data::default_model_path()).unwrap();
    let err = SentenceEncoder::from_bundle(&rqvae, "default.safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("default.safetensors") && err.contains("RQ-VAE weights"),
        "{err}"
    );
    // And the reverse: a text bundle where RQ-VAE weights belong says where it goes.
    let err = rqvae::weights::ModelWeights::from_bytes(&bytes)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("text model bundle") && err.contains("--text-model"),
        "{err}"
    );
}

/// The model directory's files, read once, for the bad-model cases to alter.
struct Files {
    config: String,
    modules: String,
    pooling: String,
    sentence_bert: String,
    tokenizer: String,
    weights: Vec<u8>,
}

fn files() -> Files {
    let dir = text_model_dir();
    let text = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    Files {
        config: text("config.json"),
        modules: text("modules.json"),
        pooling: text("1_Pooling/config.json"),
        sentence_bert: text("sentence_bert_config.json"),
        tokenizer: text("tokenizer.json"),
        weights: std::fs::read(dir.join("model.safetensors")).unwrap(),
    }
}

fn load(f: &Files) -> Result<SentenceEncoder, TextModelError> {
    SentenceEncoder::from_files(
        &DirectoryFiles {
            config: ("config.json", &f.config),
            modules: ("modules.json", &f.modules),
            pooling: ("1_Pooling/config.json", &f.pooling),
            sentence_bert: Some(("sentence_bert_config.json", &f.sentence_bert)),
            tokenizer: ("tokenizer.json", &f.tokenizer),
            weights: ("model.safetensors", &f.weights),
        },
        "test",
    )
}

fn refused(f: &Files, needles: &[&str]) {
    let err = match load(f) {
        Ok(_) => panic!("expected {needles:?} to be refused"),
        Err(e) => e.to_string(),
    };
    for needle in needles {
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }
}

#[test]
fn models_this_encoder_cannot_compute_are_refused_by_name() {
    let good = files();
    let with = |edit: &dyn Fn(&mut Files)| {
        let mut f = Files {
            config: good.config.clone(),
            modules: good.modules.clone(),
            pooling: good.pooling.clone(),
            sentence_bert: good.sentence_bert.clone(),
            tokenizer: good.tokenizer.clone(),
            weights: Vec::new(),
        };
        edit(&mut f);
        f
    };
    // Checked before the weights are read: these carry none.
    refused(
        &with(&|f| {
            f.config = f
                .config
                .replace("\"model_type\": \"bert\"", "\"model_type\": \"roberta\"")
        }),
        &["config.json", "model_type \"roberta\"", "BERT"],
    );
    refused(
        &with(&|f| {
            f.config = f
                .config
                .replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\"")
        }),
        &["config.json", "hidden_act", "\"relu\""],
    );
    refused(
        &with(&|f| {
            f.config = f.config.replace(
                "\"position_embedding_type\": \"absolute\"",
                "\"position_embedding_type\": \"relative_key\"",
            )
        }),
        &["position_embedding_type", "relative_key"],
    );
    refused(
        &with(&|f| {
            f.config = f
                .config
                .replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7")
        }),
        &["num_attention_heads", "7 heads for hidden_size 384"],
    );
    refused(
        &with(&|f| f.config = "{not json".into()),
        &["config.json", "not valid JSON"],
    );
    refused(
        &with(&|f| {
            f.pooling = f.pooling.replace(
                "\"pooling_mode_max_tokens\": false",
                "\"pooling_mode_max_tokens\": true",
            )
        }),
        &["1_Pooling/config.json", "pooling_mode_max_tokens"],
    );
    let bpe = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{"a":0,"b":1},"merges":[]}}"#;
    refused(
        &with(&|f| f.tokenizer = bpe.into()),
        &["tokenizer.json", "BPE", "WordPiece"],
    );
    let unigram = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"Unigram","unk_id":null,"vocab":[["a",0.0]],"byte_fallback":false}}"#;
    refused(
        &with(&|f| f.tokenizer = unigram.into()),
        &["tokenizer.json", "Unigram"],
    );
    refused(
        &with(&|f| f.tokenizer = "[]".into()),
        &["tokenizer.json", "not a usable tokenizer.json"],
    );
}

#[test]
fn weights_that_disagree_with_the_config_or_are_cut_short_are_refused_by_tensor() {
    let mut f = files();
    f.config = f
        .config
        .replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024");
    refused(
        &f,
        &[
            "model.safetensors",
            "encoder.layer.0.intermediate.dense.weight",
            "[1024, 384]",
            "[1536, 384]",
        ],
    );
    let mut f = files();
    f.weights.truncate(f.weights.len() / 2);
    refused(&f, &["model.safetensors", "not a safetensors file"]);
    let mut f = files();
    f.config = f
        .config
        .replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 7");
    refused(
        &f,
        &["tensor 'encoder.layer.6.attention.self.query.weight' is missing"],
    );
}

fn read_items(text: &[u8], format: ItemsFormat) -> Result<Vec<rqvae::text::items::Item>, String> {
    let mut reader = ItemsReader::new(text, format, "items", "title").map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    while let Some(chunk) = reader.next_chunk(2).map_err(|e| e.to_string())? {
        all.extend(chunk);
    }
    Ok(all)
}

#[test]
fn items_files_give_titles_and_ids_and_name_the_line_of_a_bad_row() {
    use rqvae::ids::table::ItemId;
    let jsonl = "{\"id\": 7, \"title\": \"Zelda\"}\n{\"id\": \"B0X\", \"title\": \"Mario\", \"price\": 3}\n\n";
    let items = read_items(jsonl.as_bytes(), ItemsFormat::JsonLines).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].id, Some(ItemId::Int(7)));
    assert_eq!(items[1].id, Some(ItemId::Str("B0X".into())));
    assert_eq!(items[1].title, "Mario");
    let csv =
        "\u{feff}id,title,brand\r\n1,\"Halo 3, Limited\",MS\r\n2,\"He said \"\"hi\"\"\",X\r\n";
    let items = read_items(csv.as_bytes(), ItemsFormat::Csv).unwrap();
    assert_eq!(items[0].title, "Halo 3, Limited");
    assert_eq!(items[1].title, "He said \"hi\"");
    assert_eq!(items[1].id, Some(ItemId::Str("2".into())));

    let cases: Vec<(&[u8], ItemsFormat, &str)> = vec![
        (
            b"{\"title\": \"ok\"}\n{\"title\": \"\"}\n",
            ItemsFormat::JsonLines,
            "items: line 2: the title is empty",
        ),
        (
            b"{\"title\": \"   \"}\n",
            ItemsFormat::JsonLines,
            "line 1: the title is blank",
        ),
        (
            b"{\"name\": \"x\", \"id\": 1}\n",
            ItemsFormat::JsonLines,
            "line 1: no \"title\" field (it has \"id\", \"name\")",
        ),
        (
            b"{\"title\": 5}\n",
            ItemsFormat::JsonLines,
            "line 1: \"title\" must be a string, found 5",
        ),
        (
            b"{\"title\": \"a\"}\n{\"title\": \"caf\xe9\"}\n",
            ItemsFormat::JsonLines,
            "line 2: not valid UTF-8",
        ),
        (
            b"{\"title\": \"a\"}\nnot json\n",
            ItemsFormat::JsonLines,
            "line 2: not valid JSON",
        ),
        (
            b"{\"title\": \"a\"}\n\n{\"title\": \"b\"}\n",
            ItemsFormat::JsonLines,
            "line 2: blank line",
        ),
        (
            b"id,name\n1,x\n",
            ItemsFormat::Csv,
            "line 1: the header has no \"title\" column (it has \"id\", \"name\")",
        ),
        (
            b"id,title\n1,ok\n2,\n",
            ItemsFormat::Csv,
            "line 3: the title is empty",
        ),
        (b"id,title\n1,ok\n2,a,b\n", ItemsFormat::Csv, "line 3"),
        (
            b"id,title\n1,caf\xe9\n",
            ItemsFormat::Csv,
            "line 2: the \"title\" column is not valid UTF-8",
        ),
    ];
    for (text, format, needle) in cases {
        let err = read_items(text, format).unwrap_err();
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }
}
