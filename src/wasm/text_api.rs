//! The wasm-bindgen API of the text module (feature `wasm-text`): a sentence encoder from a
//! bundle or a sentence-transformers directory's files, embedding on the CPU (SIMD128) or on
//! WebGPU (the burn model on burn-wgpu).
//!
//! JavaScript sees it through `js/sentence-encoder.js`, which adds batching, progress,
//! cancellation, workers and the backend choice. Every fallible call returns
//! `Result<_, ApiError>`, with the same stable codes as the RQ-VAE module.

use super::error::ApiError;
use super::{init_webgpu_model, GpuSlot};
use crate::text::encoder::{length_batches, DirectoryFiles};
use crate::text::model::{padded_batch, BertModel};
use crate::text::SentenceEncoder;
use burn::backend::wgpu::{Wgpu, WgpuDevice};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

type Gpu = Wgpu<f32, i32>;

/// Tokens per padded WebGPU batch: one upload, a few kernels per layer and one read-back each.
const WEBGPU_BATCH_TOKENS: usize = 8192;

/// A loaded text model: always on the CPU, and on WebGPU once `initWebGpu` succeeded.
#[wasm_bindgen]
pub struct WasmTextEncoder {
    inner: Rc<SentenceEncoder>,
    gpu: GpuSlot<BertModel<Gpu>>,
}

impl WasmTextEncoder {
    fn wrap(inner: SentenceEncoder) -> Self {
        Self {
            inner: Rc::new(inner),
            gpu: Rc::new(RefCell::new(None)),
        }
    }

    /// Token ids of `texts`; an error names the text's row counted from `row_offset`.
    fn tokens(&self, texts: &[String], row_offset: usize) -> Result<Vec<Vec<u32>>, ApiError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                self.inner.tokenize(t).map_err(|reason| {
                    ApiError::new("ERR_INPUT", format!("text {}: {reason}", row_offset + i))
                })
            })
            .collect()
    }
}

#[wasm_bindgen]
impl WasmTextEncoder {
    /// A bundle's bytes (see `src/text/bundle.rs`); `name` names it in errors.
    #[wasm_bindgen(js_name = fromBundle)]
    pub fn from_bundle(bytes: &[u8], name: &str) -> Result<WasmTextEncoder, ApiError> {
        Ok(Self::wrap(SentenceEncoder::from_bundle(bytes, name)?))
    }

    /// The files of a sentence-transformers directory: `config.json`, `modules.json`, the
    /// pooling folder's `config.json`, `sentence_bert_config.json` (or undefined),
    /// `tokenizer.json` and `model.safetensors`; `dir` names the directory in errors, `source`
    /// says where the weights came from (kept in bundles).
    #[wasm_bindgen(js_name = fromDirectoryFiles)]
    #[allow(clippy::too_many_arguments)]
    pub fn from_directory_files(
        config: &str,
        modules: &str,
        pooling: &str,
        sentence_bert: Option<String>,
        tokenizer: &str,
        weights: &[u8],
        pooling_path: &str,
        dir: &str,
        source: &str,
    ) -> Result<WasmTextEncoder, ApiError> {
        let name = |file: &str| format!("{dir}/{file}");
        let (n_config, n_modules, n_pool, n_sb, n_tok, n_w) = (
            name("config.json"),
            name("modules.json"),
            name(pooling_path),
            name("sentence_bert_config.json"),
            name("tokenizer.json"),
            name("model.safetensors"),
        );
        let files = DirectoryFiles {
            config: (&n_config, config),
            modules: (&n_modules, modules),
            pooling: (&n_pool, pooling),
            sentence_bert: sentence_bert.as_deref().map(|t| (n_sb.as_str(), t)),
            tokenizer: (&n_tok, tokenizer),
            weights: (&n_w, weights),
        };
        Ok(Self::wrap(SentenceEncoder::from_files(&files, source)?))
    }

    /// The folder of the pooling module that `modules.json` names (`1_Pooling` as a rule).
    #[wasm_bindgen(js_name = poolingDir)]
    pub fn pooling_dir(modules: &str, name: &str) -> Result<String, ApiError> {
        Ok(crate::text::config::parse_modules(modules, name)?.pooling_dir)
    }

    /// This model as one bundle file: F16 weights, config and tokenizer.
    #[wasm_bindgen(js_name = toBundle)]
    pub fn to_bundle(&self) -> Vec<u8> {
        self.inner.to_bundle()
    }

    /// The width of the sentence vectors.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Sizes, pooling, normalisation and maximum length, as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        serde_json::to_string(self.inner.config()).expect("a config serialises")
    }

    /// Where the weights came from.
    #[wasm_bindgen(getter)]
    pub fn source(&self) -> String {
        self.inner.source().into()
    }

    /// Token ids of `text`, `[CLS]` and `[SEP]` included, truncated at the maximum length.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, ApiError> {
        self.tokens(&[text.to_string()], 0).map(|mut t| t.remove(0))
    }

    #[wasm_bindgen(js_name = hasWebGpu)]
    pub fn has_webgpu(&self) -> bool {
        self.gpu.borrow().is_some()
    }

    /// Sentence vectors of `texts`, `texts.length × dim` values, on the CPU.
    #[wasm_bindgen(js_name = embedCpu)]
    pub fn embed_cpu(&self, texts: Vec<String>, row_offset: usize) -> Result<Vec<f32>, ApiError> {
        let tokens = self.tokens(&texts, row_offset)?;
        Ok(self.inner.embed_tokens(&tokens))
    }

    /// Sets up burn-wgpu on the browser's WebGPU adapter and uploads the model. The caller must
    /// have checked that `navigator.gpu.requestAdapter()` yields an adapter.
    #[wasm_bindgen(js_name = initWebGpu)]
    pub fn init_webgpu(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        init_webgpu_model(self.gpu.clone(), move |device| {
            inner.burn_model::<Gpu>(device)
        })
    }

    /// Sentence vectors of `texts` on WebGPU (after `initWebGpu`): resolves to a `Float32Array`
    /// of `texts.length × dim` values.
    #[wasm_bindgen(js_name = embedWebGpu)]
    pub fn embed_webgpu(&self, texts: Vec<String>, row_offset: usize) -> js_sys::Promise {
        let tokens = self.tokens(&texts, row_offset);
        let model = self.gpu.borrow().clone();
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let tokens = tokens.map_err(JsValue::from)?;
            let model = model.ok_or_else(|| {
                JsValue::from(ApiError::new(
                    "ERR_WEBGPU",
                    "WebGPU is not initialised for this text encoder",
                ))
            })?;
            let device = WgpuDevice::default();
            let config = inner.config();
            let dim = inner.dim();
            let mut out = vec![0.0f32; tokens.len() * dim];
            for batch in length_batches(&tokens, WEBGPU_BATCH_TOKENS) {
                let seqs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
                let (ids, mask) = padded_batch::<Gpu>(&seqs, &device);
                let vectors = model
                    .embed(ids, mask, config.pooling, config.normalize)
                    .into_data_async()
                    .await
                    .map_err(|e| {
                        JsValue::from(ApiError::new(
                            "ERR_WEBGPU",
                            format!("WebGPU read-back failed: {e:?}"),
                        ))
                    })?;
                let values = vectors.iter::<f32>().collect::<Vec<f32>>();
                for (&i, v) in batch.iter().zip(values.chunks_exact(dim)) {
                    out[i * dim..(i + 1) * dim].copy_from_slice(v);
                }
            }
            Ok(js_sys::Float32Array::from(&out[..]).into())
        })
    }
}
