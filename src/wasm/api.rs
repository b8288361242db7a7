//! The wasm-bindgen API behind the npm package (feature `wasm`).
//!
//! JavaScript sees these through `js/index.js`, which adds batching, progress, backend choice
//! and the freed-encoder check. Every fallible call returns `Result<_, ApiError>`: a thrown
//! `Error` or rejected Promise with a message and a stable `code` ([`crate::wasm::error`]);
//! inputs are validated here before they reach burn, so no input a user can give reaches a panic.

use super::{init_webgpu_model, GpuSlot};
use crate::embeddings::Embeddings;
use crate::host::model::HostModel;
use crate::ids::assign::{assign, AssignOptions};
use crate::ids::canonical::{near_tie_rows, redecide};
use crate::ids::item_tokens::{tokens_csv, tokens_jsonl};
use crate::ids::labels::{prefix_key, prefix_labels, LabelOptions, LabelsFile};
use crate::ids::prefix_tree::prefix_tree_json;
use crate::ids::quality::{churn, table_quality};
use crate::ids::table::{IdTable, ItemId, Resolution};
use crate::ids::vocabulary::{vocabulary_json, MAX_TOKEN_ID};
use crate::model::RqVae;
use crate::wasm::error::ApiError;
use crate::weights::{ModelWeights, WeightsError};
use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::tensor::{Tensor, TensorData};
use half::f16;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

type Gpu = Wgpu<f32, i32>;

/// A loaded model: always on the CPU ([`HostModel`]), and on WebGPU (the burn model on
/// burn-wgpu) once `initWebGpu` succeeded.
#[wasm_bindgen]
pub struct WasmEncoder {
    weights: Rc<ModelWeights>,
    cpu: Rc<HostModel>,
    gpu: GpuSlot<RqVae<Gpu>>,
}

/// Rows checked for shape and finiteness; errors report rows counted from `row_offset`, so a
/// batch's message names the row of the caller's whole array.
fn checked_rows(
    rows: Vec<f32>,
    dim: usize,
    row_offset: usize,
    expected: usize,
) -> Result<Embeddings, ApiError> {
    use crate::EmbeddingsError;
    if dim != expected {
        return Err(EmbeddingsError::DimMismatch {
            expected,
            found: dim,
        }
        .into());
    }
    Embeddings::new(rows, dim).map_err(|e| {
        let e = match e {
            EmbeddingsError::NonFinite { row, col, value } => EmbeddingsError::NonFinite {
                row: row + row_offset,
                col,
                value,
            },
            other => other,
        };
        e.into()
    })
}

fn to_u16(ids: Vec<u32>) -> Vec<u16> {
    // Codebook sizes are validated to at most 65536, so every ID fits.
    ids.into_iter().map(|v| v as u16).collect()
}

#[wasm_bindgen]
impl WasmEncoder {
    /// Parses and checks weights (`.safetensors` bytes of format version 1).
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<WasmEncoder, ApiError> {
        let weights = ModelWeights::from_bytes(bytes)?;
        let cpu = HostModel::new(&weights)?;
        Ok(Self {
            cpu: Rc::new(cpu),
            weights: Rc::new(weights),
            gpu: Rc::new(RefCell::new(None)),
        })
    }

    /// The model's config as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        self.weights.config.to_json()
    }

    /// The model's fingerprint (`sha256:…`), as ID tables record it.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.cpu.fingerprint().into()
    }

    #[wasm_bindgen(js_name = hasDecoder)]
    pub fn has_decoder(&self) -> bool {
        self.weights.decoder.is_some()
    }

    #[wasm_bindgen(js_name = hasWebGpu)]
    pub fn has_webgpu(&self) -> bool {
        self.gpu.borrow().is_some()
    }

    /// Sets up burn-wgpu on the browser's WebGPU adapter and uploads the model. The caller must
    /// have checked that `navigator.gpu.requestAdapter()` yields an adapter: wgpu panics without one.
    #[wasm_bindgen(js_name = initWebGpu)]
    pub fn init_webgpu(&self) -> js_sys::Promise {
        let weights = self.weights.clone();
        init_webgpu_model(self.gpu.clone(), move |device| {
            weights.to_model::<Gpu>(device)
        })
    }

    /// IDs `[n, levels]` (row-major) of f32 rows on the CPU.
    #[wasm_bindgen(js_name = encodeCpu)]
    pub fn encode_cpu(
        &self,
        rows: Vec<f32>,
        dim: usize,
        row_offset: usize,
    ) -> Result<Vec<u16>, ApiError> {
        let x = checked_rows(rows, dim, row_offset, self.weights.config.input_dim)?;
        // The canonical IDs: in the relaxed-SIMD module, fused sums with near-ties re-decided.
        Ok(to_u16(self.cpu.encode_fast(x.as_slice(), x.rows()).0))
    }

    /// The encoder's outputs for f32 rows, `[n, latent_dim]` row-major: the space the codes
    /// quantize, which the explorer's map lays out.
    #[wasm_bindgen(js_name = latentsCpu)]
    pub fn latents_cpu(
        &self,
        rows: Vec<f32>,
        dim: usize,
        row_offset: usize,
    ) -> Result<Vec<f32>, ApiError> {
        let x = checked_rows(rows, dim, row_offset, self.weights.config.input_dim)?;
        Ok(self.cpu.latents(x.as_slice(), x.rows()))
    }

    /// IDs of f32 rows on WebGPU (after `initWebGpu`). Resolves to a `Uint16Array`. Rows whose
    /// decision margin is within [`crate::ids::canonical::TIE_MARGIN`] of a tie are re-decided on the
    /// CPU, so the IDs equal `encodeCpu`'s.
    #[wasm_bindgen(js_name = encodeWebGpu)]
    pub fn encode_webgpu(&self, rows: Vec<f32>, dim: usize, row_offset: usize) -> js_sys::Promise {
        let checked = checked_rows(rows, dim, row_offset, self.weights.config.input_dim);
        let model = self.gpu.borrow().clone();
        let cpu = self.cpu.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let x = checked.map_err(JsValue::from)?;
            let model = model.ok_or_else(|| {
                JsValue::from(ApiError::new(
                    "ERR_WEBGPU",
                    "WebGPU is not initialised for this encoder",
                ))
            })?;
            let device = WgpuDevice::default();
            let input = Tensor::<Gpu, 2>::from_data(
                TensorData::new(x.as_slice().to_vec(), [x.rows(), x.dim()]),
                &device,
            );
            let read_back = |e| {
                JsValue::from(ApiError::new(
                    "ERR_WEBGPU",
                    format!("WebGPU read-back failed: {e:?}"),
                ))
            };
            let (ids, margins) = model.encode_with_margin(input);
            let ids = ids.into_data_async().await.map_err(read_back)?;
            let margins = margins.into_data_async().await.map_err(read_back)?;
            let mut ids: Vec<u32> = ids.iter::<i64>().map(|v| v as u32).collect();
            let near_ties: Vec<usize> = near_tie_rows(margins.iter::<f32>()).collect();
            redecide(&cpu, &x, &mut ids, &near_ties);
            Ok(js_sys::Uint16Array::from(&to_u16(ids)[..]).into())
        })
    }

    /// Decoder reconstructions `[n, input_dim]` of IDs `[n, levels]` on the CPU.
    #[wasm_bindgen(js_name = decodeCpu)]
    pub fn decode_cpu(&self, ids: &[u16]) -> Result<Vec<f32>, ApiError> {
        let c = &self.weights.config;
        let no_decoder = || ApiError::new("ERR_NO_DECODER", WeightsError::NoDecoder);
        if !self.cpu.has_decoder() {
            return Err(no_decoder());
        }
        if ids.is_empty() || !ids.len().is_multiple_of(c.levels) {
            return Err(ApiError::new(
                "ERR_ID_RANGE",
                format!(
                    "{} IDs are not a whole number of rows of {} levels",
                    ids.len(),
                    c.levels
                ),
            ));
        }
        if let Some(pos) = ids.iter().position(|&v| v as usize >= c.codebook_size) {
            return Err(ApiError::new(
                "ERR_ID_RANGE",
                format!(
                    "ID {} at row {}, level {} is outside the codebook (size {})",
                    ids[pos],
                    pos / c.levels,
                    pos % c.levels,
                    c.codebook_size
                ),
            ));
        }
        let ids: Vec<u32> = ids.iter().map(|&v| v as u32).collect();
        self.cpu.decode(&ids).ok_or_else(no_decoder)
    }
}

/// A parsed `.npy` array of embeddings.
#[wasm_bindgen]
pub struct NpyArray {
    data: Vec<f32>,
    rows: usize,
    dim: usize,
    dtype: String,
}

#[wasm_bindgen]
impl NpyArray {
    /// The values as f32 (f16 files are widened).
    #[wasm_bindgen(getter)]
    pub fn data(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(&self.data[..])
    }
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.rows
    }
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// `"float32"` or `"float16"`: the precision stored in the file.
    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.dtype.clone()
    }
}

/// Parses `.npy` bytes (2-D, little-endian f32 or f16, C order) with the same reader as the
/// trainer.
#[wasm_bindgen(js_name = readNpy)]
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, ApiError> {
    let (x, kind) = crate::npy::read_embeddings_bytes(bytes)?;
    Ok(NpyArray {
        rows: x.rows(),
        dim: x.dim(),
        dtype: match kind {
            crate::npy::NpyFloat::F32 => "float32".into(),
            crate::npy::NpyFloat::F16 => "float16".into(),
        },
        data: x.into_vec(),
    })
}

/// Widens IEEE half-precision bit patterns to f32.
#[wasm_bindgen(js_name = f16ToF32)]
pub fn f16_to_f32(bits: &[u16]) -> Vec<f32> {
    bits.iter().map(|&b| f16::from_bits(b).to_f32()).collect()
}

/// An ID table (see `id_table.rs`), grown by [`assign`] with an encoder's canonical CPU path.
#[wasm_bindgen]
pub struct WasmIdTable {
    inner: IdTable,
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("reports serialise")
}

#[wasm_bindgen]
impl WasmIdTable {
    /// An empty table for `encoder`'s model; `reassign` picks the collision policy.
    #[wasm_bindgen(constructor)]
    pub fn new(encoder: &WasmEncoder, reassign: bool) -> Result<WasmIdTable, ApiError> {
        let c = &encoder.weights.config;
        let resolution = if reassign {
            Resolution::Reassign
        } else {
            Resolution::Suffix
        };
        IdTable::new(
            encoder.cpu.fingerprint(),
            c.levels,
            c.codebook_size,
            resolution,
        )
        .map(|inner| Self { inner })
        .map_err(ApiError::from)
    }

    /// Parses and checks a table's JSON Lines.
    #[wasm_bindgen(js_name = fromJsonl)]
    pub fn from_jsonl(text: &str) -> Result<WasmIdTable, ApiError> {
        IdTable::from_jsonl(text)
            .map(|inner| Self { inner })
            .map_err(ApiError::from)
    }

    /// Fails unless the table was made by `encoder`'s model.
    #[wasm_bindgen(js_name = checkModel)]
    pub fn check_model(&self, encoder: &WasmEncoder) -> Result<(), ApiError> {
        let c = &encoder.weights.config;
        self.inner
            .check_model(encoder.cpu.fingerprint(), c.levels, c.codebook_size)
            .map_err(ApiError::from)
    }

    /// Assigns f32 rows; `ids_json` is a JSON array of ids (integers or strings), or empty for
    /// row numbers counted on from the table's size. Returns the report as JSON. On error the
    /// table is unchanged.
    pub fn assign(
        &mut self,
        encoder: &WasmEncoder,
        rows: Vec<f32>,
        dim: usize,
        ids_json: &str,
        reassign_changed: bool,
    ) -> Result<String, ApiError> {
        let x = checked_rows(rows, dim, 0, encoder.weights.config.input_dim)?;
        let ids = if ids_json.is_empty() {
            self.inner
                .row_number_ids(x.rows())
                .map_err(ApiError::from)?
        } else {
            parse_ids(ids_json)?
        };
        let report = assign(
            &mut self.inner,
            &encoder.cpu,
            &x,
            &ids,
            AssignOptions { reassign_changed },
        )
        .map_err(ApiError::from)?;
        Ok(to_json(&report))
    }

    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    #[wasm_bindgen(js_name = headerJson)]
    pub fn header_json(&self) -> String {
        to_json(self.inner.header())
    }

    /// Every entry as JSON, in table order:
    /// `[{"id":…,"codes":[…],"tokens":"<a_…>…","reassigned_from":…|null}, …]`.
    #[wasm_bindgen(js_name = entriesJson)]
    pub fn entries_json(&self) -> String {
        let entries: Vec<serde_json::Value> = self
            .inner
            .entries()
            .map(|e| {
                serde_json::json!({
                    "id": e.id.to_json(),
                    "codes": e.codes,
                    "tokens": e.tokens(),
                    "reassigned_from": e.reassigned_from,
                })
            })
            .collect();
        to_json(&entries)
    }

    #[wasm_bindgen(js_name = qualityJson)]
    pub fn quality_json(&self) -> String {
        to_json(&table_quality(&self.inner))
    }

    /// Churn from `previous` to this table, as JSON.
    #[wasm_bindgen(js_name = churnJson)]
    pub fn churn_json(&self, previous: &WasmIdTable) -> String {
        to_json(&churn(&previous.inner, &self.inner))
    }

    #[wasm_bindgen(js_name = toJsonl)]
    pub fn to_jsonl(&self) -> String {
        self.inner.to_jsonl()
    }

    #[wasm_bindgen(js_name = toCsv)]
    pub fn to_csv(&self) -> String {
        self.inner.to_csv()
    }

    #[wasm_bindgen(js_name = toLcRecJson)]
    pub fn to_lcrec_json(&self) -> String {
        self.inner.to_lcrec_json()
    }

    /// The vocabulary of the table's IDs, token ids from `token_offset` on (a JavaScript number,
    /// which js/id-table.js checks to be a non-negative safe integer).
    #[wasm_bindgen(js_name = toVocabularyJson)]
    pub fn to_vocabulary_json(&self, token_offset: f64) -> Result<String, ApiError> {
        Ok(vocabulary_json(
            &self.inner,
            checked_token_offset(token_offset)?,
        )?)
    }

    /// Every item's tokens and token ids as JSON Lines.
    #[wasm_bindgen(js_name = toTokensJsonl)]
    pub fn to_tokens_jsonl(&self, token_offset: f64) -> Result<String, ApiError> {
        Ok(tokens_jsonl(
            &self.inner,
            checked_token_offset(token_offset)?,
        )?)
    }

    /// Every item's tokens and token ids as CSV.
    #[wasm_bindgen(js_name = toTokensCsv)]
    pub fn to_tokens_csv(&self, token_offset: f64) -> Result<String, ApiError> {
        Ok(tokens_csv(
            &self.inner,
            checked_token_offset(token_offset)?,
        )?)
    }

    /// The prefix tree of the table's IDs for constrained decoding.
    #[wasm_bindgen(js_name = toPrefixTreeJson)]
    pub fn to_prefix_tree_json(&self, token_offset: f64) -> Result<String, ApiError> {
        Ok(prefix_tree_json(
            &self.inner,
            checked_token_offset(token_offset)?,
        )?)
    }

    /// Labels for every prefix from the entries' titles (`titles_json`: a JSON array, one
    /// string or null per entry in table order), `terms` terms each, as JSON:
    /// `[{"prefix":[…],"key":"51/3","items":…,"titled":…,"terms":[…],"label":"…"}, …]`.
    #[wasm_bindgen(js_name = prefixLabelsJson)]
    pub fn prefix_labels_json(&self, titles_json: &str, terms: usize) -> Result<String, ApiError> {
        let levels = self.inner.header().levels;
        let mut codes = Vec::with_capacity(self.inner.len() * levels);
        for e in self.inner.entries() {
            codes.extend_from_slice(e.tuple());
        }
        labels_json(&codes, levels, titles_json, terms)
    }

    /// The positions of the entries whose codes start with `prefix`, in table order.
    #[wasm_bindgen(js_name = prefixRows)]
    pub fn prefix_rows(&self, prefix: &[u32]) -> Result<Vec<u32>, ApiError> {
        let levels = self.inner.header().levels;
        if prefix.is_empty() || prefix.len() > levels {
            return Err(ApiError::new(
                "ERR_INPUT",
                format!("a prefix has 1 to {levels} codes, found {}", prefix.len()),
            ));
        }
        Ok(self
            .inner
            .entries()
            .enumerate()
            .filter(|(_, e)| e.codes.starts_with(prefix))
            .map(|(i, _)| i as u32)
            .collect())
    }

    /// A labels file's names (a JSON object keyed by prefix key), after checking that the file
    /// belongs to this table (its model's fingerprint) and that every key and name is usable.
    #[wasm_bindgen(js_name = readLabelsJson)]
    pub fn read_labels_json(&self, text: &str) -> Result<String, ApiError> {
        let file = LabelsFile::from_json(text, &self.inner.header().model)?;
        Ok(to_json(&file.names))
    }

    /// The labels file of this table for `names_json` (a JSON object: prefix key → name).
    #[wasm_bindgen(js_name = labelsFileJson)]
    pub fn labels_file_json(&self, names_json: &str) -> Result<String, ApiError> {
        let header = self.inner.header();
        let names = serde_json::from_str(names_json).map_err(|e| {
            ApiError::new(
                "ERR_LABELS",
                format!("names: not an object of prefix keys to names: {e}"),
            )
        })?;
        let file = LabelsFile::with_names(&header.model, header.levels, names)?;
        Ok(file.to_json())
    }
}

/// A token offset from JavaScript: a whole number from 0 to 2⁵³ − 1 (a float cast to an integer
/// would silently round or saturate).
fn checked_token_offset(value: f64) -> Result<u64, ApiError> {
    if value >= 0.0 && value.fract() == 0.0 && value <= MAX_TOKEN_ID as f64 {
        Ok(value as u64)
    } else {
        Err(ApiError::new(
            "ERR_OPTION",
            format!("tokenOffset must be a non-negative safe integer, got {value}"),
        ))
    }
}

/// Labels for every prefix of `codes` (row-major, `levels` per item; a table's tuples or an
/// encode's codes), from `titles_json` (a JSON array, one string or null per item), as JSON:
/// `[{"prefix":[…],"key":"51/3","items":…,"titled":…,"terms":[…],"label":"…"}, …]`.
#[wasm_bindgen(js_name = labelsJson)]
pub fn labels_json(
    codes: &[u32],
    levels: usize,
    titles_json: &str,
    terms: usize,
) -> Result<String, ApiError> {
    if levels == 0 || !codes.len().is_multiple_of(levels) {
        return Err(ApiError::new(
            "ERR_INPUT",
            format!(
                "{} codes are not whole items of {levels} levels",
                codes.len()
            ),
        ));
    }
    let items = codes.len() / levels;
    let titles: Vec<Option<String>> = serde_json::from_str(titles_json).map_err(|e| {
        ApiError::new(
            "ERR_INPUT",
            format!("titles: not an array of strings or nulls: {e}"),
        )
    })?;
    if titles.len() != items {
        return Err(ApiError::new(
            "ERR_INPUT",
            format!(
                "{} titles for {items} items: give one title (or null) per item, in their order",
                titles.len()
            ),
        ));
    }
    if terms == 0 {
        return Err(ApiError::new("ERR_OPTION", "terms must be at least 1"));
    }
    let titles: Vec<Option<&str>> = titles.iter().map(Option::as_deref).collect();
    let labels = prefix_labels(codes, levels, &titles, LabelOptions { terms });
    let out: Vec<serde_json::Value> = labels
        .iter()
        .map(|l| {
            serde_json::json!({
                "prefix": l.prefix,
                "key": prefix_key(&l.prefix),
                "items": l.items,
                "titled": l.titled,
                "terms": l.terms,
                "label": l.label,
            })
        })
        .collect();
    Ok(to_json(&out))
}

/// A JSON array of ids, each checked like an items file's.
fn parse_ids(text: &str) -> Result<Vec<ItemId>, ApiError> {
    let values: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| ApiError::new("ERR_IDS", format!("ids: not a JSON array: {e}")))?;
    values
        .iter()
        .enumerate()
        .map(|(row, v)| {
            ItemId::from_json(v).map_err(|m| ApiError::new("ERR_IDS", format!("ids[{row}]: {m}")))
        })
        .collect()
}

/// The layout of a `.npy` stream from its first bytes, as JSON, with the trainer's header
/// reader: `{"needBytes": n}` while the header is longer than `prefix` (unless `at_end`), else
/// `{"dtype", "rows", "dim", "dataOffset", "dataBytes"}`. The package streams the rows itself.
#[wasm_bindgen(js_name = npyHeaderJson)]
pub fn npy_header_json(prefix: &[u8], at_end: bool) -> Result<String, ApiError> {
    use crate::npy::{probe_header, HeaderProbe, NpyFloat};
    Ok(match probe_header(prefix, at_end)? {
        HeaderProbe::NeedBytes(n) => to_json(&serde_json::json!({ "needBytes": n })),
        HeaderProbe::Ready(layout) => to_json(&serde_json::json!({
            "dtype": match layout.kind {
                NpyFloat::F32 => "float32",
                NpyFloat::F16 => "float16",
            },
            "rows": layout.rows,
            "dim": layout.dim,
            "dataOffset": layout.data_start,
            "dataBytes": layout.data_bytes,
        })),
    })
}

/// Fails (`ERR_NPY`) unless `found` data bytes follow the header in `header` (the bytes given
/// to [`npy_header_json`]): the trainer's truncated / trailing-bytes messages, for a stream
/// whose length is only known at its end.
#[wasm_bindgen(js_name = npyCheckDataBytes)]
pub fn npy_check_data_bytes(header: &[u8], found: f64) -> Result<(), ApiError> {
    use crate::npy::{probe_header, HeaderProbe, NpyError};
    match probe_header(header, true)? {
        HeaderProbe::Ready(layout) => Ok(layout.check_data_bytes(found as u64)?),
        HeaderProbe::NeedBytes(_) => Err(NpyError::TruncatedHeader("incomplete".into()).into()),
    }
}

/// Code usage of IDs (`[n, levels]` row-major) as JSON, by the trainer's definitions:
/// `{"levels": [{"used", "dead", "utilisation", "perplexity", "gini", "entropy_ratio"}, …],
/// "unique": distinct full tuples, "rows"}`.
#[wasm_bindgen(js_name = codeUsageJson)]
pub fn code_usage_json(
    ids: &[u16],
    levels: usize,
    codebook_size: usize,
) -> Result<String, ApiError> {
    if levels == 0 || !ids.len().is_multiple_of(levels) {
        return Err(ApiError::new(
            "ERR_IDS",
            format!("{} IDs are not whole rows of {levels} levels", ids.len()),
        ));
    }
    if let Some(pos) = ids.iter().position(|&v| v as usize >= codebook_size) {
        return Err(ApiError::new(
            "ERR_ID_RANGE",
            format!(
                "ID {} at row {}, level {} is outside the codebook (size {codebook_size})",
                ids[pos],
                pos / levels,
                pos % levels
            ),
        ));
    }
    let wide: Vec<u32> = ids.iter().map(|&v| v as u32).collect();
    let (unique, _) = crate::metrics::tuple_stats(&wide, levels);
    Ok(to_json(&serde_json::json!({
        "levels": crate::metrics::level_usage(&wide, levels, codebook_size),
        "unique": unique,
        "rows": ids.len() / levels,
    })))
}
