//! [`SentenceEncoder`]: texts in, sentence vectors out, from a sentence-transformers directory
//! or a bundle, on the host CPU path.
//!
//! Texts are tokenised, sorted by length and cut into batches of similar lengths, so that the
//! packed forward pass wastes nothing and batches can run on several threads; the vectors come
//! back in the texts' order.

use super::bundle::{read_bundle, write_bundle};
use super::config::{
    parse_bert_config, parse_max_seq_length, parse_modules, parse_pooling, TextModelConfig,
};
use super::error::TextModelError;
use super::host::{HostBert, Scratch};
use super::model::{padded_batch, BertModel};
use super::tokenizer::WordPieceTokenizer;
use super::weights::BertWeights;
use burn::tensor::backend::Backend;

/// Tokens per batch of the forward pass: large enough for the matrix kernels to run at speed,
/// small enough that the activations stay in cache-friendly sizes.
const BATCH_TOKENS: usize = 2048;
/// Tokens per padded batch on a device: large batches amortise kernel launches and read-backs.
const DEVICE_BATCH_TOKENS: usize = 16_384;

/// A sentence encoder: tokenizer, BERT weights and pooling.
pub struct SentenceEncoder {
    config: TextModelConfig,
    tokenizer: WordPieceTokenizer,
    model: HostBert,
    source: String,
}

/// The text of the files of a sentence-transformers directory, with the names errors give them.
pub struct DirectoryFiles<'a> {
    /// `config.json`.
    pub config: (&'a str, &'a str),
    /// `modules.json`.
    pub modules: (&'a str, &'a str),
    /// The pooling module's `config.json` (the folder `modules.json` names).
    pub pooling: (&'a str, &'a str),
    /// `sentence_bert_config.json`, where present.
    pub sentence_bert: Option<(&'a str, &'a str)>,
    /// `tokenizer.json`.
    pub tokenizer: (&'a str, &'a str),
    /// `model.safetensors`, as bytes.
    pub weights: (&'a str, &'a [u8]),
}

impl SentenceEncoder {
    /// Reads the directory `SentenceTransformer.save()` writes: `config.json`,
    /// `model.safetensors`, `tokenizer.json`, `modules.json`, the pooling folder's
    /// `config.json` and, where present, `sentence_bert_config.json`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, TextModelError> {
        let path = |name: &str| dir.join(name);
        let read = |name: &str| {
            let p = path(name);
            std::fs::read(&p).map_err(|e| TextModelError::Read {
                file: p.display().to_string(),
                reason: e.to_string(),
            })
        };
        let text = |name: &str| -> Result<String, TextModelError> {
            String::from_utf8(read(name)?).map_err(|e| TextModelError::Read {
                file: path(name).display().to_string(),
                reason: format!("not UTF-8 text ({e})"),
            })
        };
        let name = |n: &str| path(n).display().to_string();
        let modules = text("modules.json")?;
        let pooling_dir = parse_modules(&modules, &name("modules.json"))?.pooling_dir;
        let pooling_file = format!("{pooling_dir}/config.json");
        let pooling = text(&pooling_file)?;
        let sentence_bert = match path("sentence_bert_config.json").exists() {
            true => Some(text("sentence_bert_config.json")?),
            false => None,
        };
        let config = text("config.json")?;
        let tokenizer = text("tokenizer.json")?;
        let weights = read("model.safetensors")?;
        let (n_config, n_modules, n_pool, n_sb, n_tok, n_w) = (
            name("config.json"),
            name("modules.json"),
            name(&pooling_file),
            name("sentence_bert_config.json"),
            name("tokenizer.json"),
            name("model.safetensors"),
        );
        Self::from_files(
            &DirectoryFiles {
                config: (&n_config, &config),
                modules: (&n_modules, &modules),
                pooling: (&n_pool, &pooling),
                sentence_bert: sentence_bert.as_deref().map(|t| (n_sb.as_str(), t)),
                tokenizer: (&n_tok, &tokenizer),
                weights: (&n_w, &weights),
            },
            &dir.display().to_string(),
        )
    }

    /// The encoder from a directory's files held in memory; `source` says where they came from.
    pub fn from_files(files: &DirectoryFiles, source: &str) -> Result<Self, TextModelError> {
        let bert = parse_bert_config(files.config.1, files.config.0)?;
        let modules = parse_modules(files.modules.1, files.modules.0)?;
        let pooling = parse_pooling(files.pooling.1, files.pooling.0)?;
        let stated = match files.sentence_bert {
            Some((name, text)) => parse_max_seq_length(text, name)?,
            None => None,
        };
        // sentence-transformers' rule: its own max_seq_length, else what the model can take.
        let max_seq_length = stated
            .unwrap_or(bert.max_position_embeddings)
            .min(bert.max_position_embeddings);
        let config = TextModelConfig {
            bert,
            pooling,
            normalize: modules.normalize,
            max_seq_length,
        };
        let tokenizer = WordPieceTokenizer::from_json(
            files.tokenizer.1,
            files.tokenizer.0,
            max_seq_length,
            config.bert.vocab_size,
        )?;
        let weights =
            BertWeights::from_safetensors(files.weights.1, files.weights.0, &config.bert)?;
        Ok(Self::assemble(config, tokenizer, weights, source.into()))
    }

    /// The encoder from a bundle (see [`super::bundle`]); `file` names it in errors.
    pub fn from_bundle(bytes: &[u8], file: &str) -> Result<Self, TextModelError> {
        let b = read_bundle(bytes, file)?;
        b.config.bert.check(file)?;
        let tokenizer = WordPieceTokenizer::from_json(
            &b.tokenizer_json,
            &format!("{file} (its tokenizer)"),
            b.config
                .max_seq_length
                .min(b.config.bert.max_position_embeddings),
            b.config.bert.vocab_size,
        )?;
        Ok(Self::assemble(b.config, tokenizer, b.weights, b.source))
    }

    fn assemble(
        config: TextModelConfig,
        tokenizer: WordPieceTokenizer,
        weights: BertWeights,
        source: String,
    ) -> Self {
        Self {
            model: HostBert::new(config.bert.clone(), weights),
            config,
            tokenizer,
            source,
        }
    }

    /// This encoder as a bundle: F16 weights, config and tokenizer in one file.
    pub fn to_bundle(&self) -> Vec<u8> {
        write_bundle(
            &self.config,
            &self.tokenizer.to_json(),
            self.model.weights(),
            &self.source,
        )
    }

    pub fn config(&self) -> &TextModelConfig {
        &self.config
    }

    /// The width of the sentence vectors.
    pub fn dim(&self) -> usize {
        self.config.dim()
    }

    /// Where the weights came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn weights(&self) -> &BertWeights {
        self.model.weights()
    }

    /// The model as a burn module on `device`, for [`Self::embed_tokens_on`].
    pub fn burn_model<B: Backend>(&self, device: &B::Device) -> BertModel<B> {
        BertModel::new(&self.config.bert, self.model.weights(), device)
    }

    /// [`Self::embed_tokens`] on burn's backend `B` (CUDA natively) with `model` from
    /// [`Self::burn_model`]: batches padded to their longest text, with a mask.
    pub fn embed_tokens_on<B: Backend>(
        &self,
        model: &BertModel<B>,
        tokens: &[Vec<u32>],
        device: &B::Device,
    ) -> Vec<f32> {
        let dim = self.dim();
        let mut out = vec![0.0; tokens.len() * dim];
        for batch in length_batches(tokens, DEVICE_BATCH_TOKENS) {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
            let (ids, mask) = padded_batch::<B>(&seqs, device);
            let vectors = model
                .embed(ids, mask, self.config.pooling, self.config.normalize)
                .into_data()
                .into_vec::<f32>()
                .expect("f32 sentence vectors");
            for (&i, v) in batch.iter().zip(vectors.chunks_exact(dim)) {
                out[i * dim..(i + 1) * dim].copy_from_slice(v);
            }
        }
        out
    }

    /// The token ids of `text` (`[CLS]` … `[SEP]`, truncated at the maximum length).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer.encode(text)
    }

    /// Sentence vectors of `texts`, `texts.len() × dim` values in their order. Every text is
    /// embedded as sentence-transformers embeds it, the empty one included (`[CLS] [SEP]`):
    /// refusing empty titles is the job of the catalog readers, which know the row.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<f32>, TextModelError> {
        let tokens = texts
            .iter()
            .enumerate()
            .map(|(row, t)| {
                self.tokenizer
                    .encode(t.as_ref())
                    .map_err(|reason| TextModelError::Input {
                        source_name: "texts".into(),
                        row,
                        reason,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.embed_tokens(&tokens))
    }

    /// Sentence vectors of tokenised texts (each from [`Self::tokenize`]), in their order.
    pub fn embed_tokens(&self, tokens: &[Vec<u32>]) -> Vec<f32> {
        let dim = self.dim();
        let batches = length_batches(tokens, BATCH_TOKENS);
        let run = |batch: &[usize]| {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
            let mut out = vec![0.0; seqs.len() * dim];
            SCRATCH.with(|s| {
                self.model.embed(
                    &seqs,
                    self.config.pooling,
                    self.config.normalize,
                    &mut out,
                    &mut s.borrow_mut(),
                )
            });
            out
        };
        #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
        let results: Vec<Vec<f32>> = {
            use rayon::prelude::*;
            batches.par_iter().map(|b| run(b)).collect()
        };
        #[cfg(not(all(feature = "parallel", not(target_arch = "wasm32"))))]
        let results: Vec<Vec<f32>> = batches.iter().map(|b| run(b)).collect();
        let mut out = vec![0.0; tokens.len() * dim];
        for (batch, vectors) in batches.iter().zip(&results) {
            for (&i, v) in batch.iter().zip(vectors.chunks_exact(dim)) {
                out[i * dim..(i + 1) * dim].copy_from_slice(v);
            }
        }
        out
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The indices of `tokens`, sorted by length and cut into runs of at most `budget` tokens (a
/// longer text is a batch of its own): batches of similar lengths, which pad little.
pub fn length_batches(tokens: &[Vec<u32>], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| tokens[i].len());
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut count = 0;
    for i in order {
        let len = tokens[i].len();
        if !current.is_empty() && count + len > budget {
            batches.push(std::mem::take(&mut current));
            count = 0;
        }
        current.push(i);
        count += len;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}
