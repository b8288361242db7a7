/** Model sizes, as stored in the weights file. */
export interface RqVaeConfig {
  input_dim: number;
  hidden_dims: number[];
  latent_dim: number;
  levels: number;
  codebook_size: number;
}

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export interface EncodeOptions {
  /** Values per row; defaults to the model's input_dim and must equal it. */
  dim?: number;
  /**
   * Rows per call into the wasm module (default 2048 on the CPU, 4096 on WebGPU, where two
   * batches are queued at once so that read-backs overlap the next batch's work). At most
   * 65,536 (fewer for models wider than 2,048 values: at most 512 MiB of float32 rows per call),
   * since one call's copy of its rows and its outputs must fit in wasm32 memory (at most 4 GiB);
   * larger is refused (ERR_OPTION).
   */
  batchSize?: number;
  /** Called after every batch. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /**
   * Cancels between batches: the Promise then rejects with `signal.reason`, as fetch does (a
   * DOMException named 'AbortError' unless `abort(reason)` gave another).
   */
  signal?: AbortSignal;
}

/**
 * Rows from which 'auto' encodes on a hardware WebGPU adapter (64). On a software adapter
 * (SwiftShader, lavapipe, WARP) or without one, 'auto' always uses the CPU.
 */
export const AUTO_WEBGPU_MIN_ROWS: number;

/** This context's WebGPU adapter: none, a software (fallback) adapter, or hardware. */
export function webgpuAdapterKind(): Promise<'none' | 'software' | 'hardware'>;

/**
 * Where weights or the wasm module come from: their bytes, a fetch Response (which must be a
 * success), or a location to fetch (a URL, or a string resolved as fetch resolves it). In Node.js a
 * location may also be a file: URL or a file path.
 */
export type AssetSource = Uint8Array | ArrayBuffer | ArrayBufferView | Response | URL | string;

export interface LoadOptions {
  /** 'auto' (default), 'webgpu' or 'cpu'. */
  backend?: BackendChoice;
  /**
   * Workers for the CPU backend (default 1: the calling thread). Each holds its own wasm
   * instance and copy of the weights; batches are shared out among them. Needs no
   * cross-origin isolation. Ignored for backend 'webgpu'.
   */
  threads?: number;
}

/** Stable codes of RqvaeError (see the README's "Errors"). */
export type RqvaeErrorCode =
  | 'ERR_INPUT'
  | 'ERR_DIMENSION'
  | 'ERR_NON_FINITE'
  | 'ERR_OPTION'
  | 'ERR_WEIGHTS'
  | 'ERR_NO_DECODER'
  | 'ERR_TEXT_MODEL'
  | 'ERR_NPY'
  | 'ERR_TOO_LARGE'
  | 'ERR_ID_RANGE'
  | 'ERR_IDS'
  | 'ERR_TABLE'
  | 'ERR_LABELS'
  | 'ERR_MODEL_MISMATCH'
  | 'ERR_FREED'
  | 'ERR_NO_WEBGPU'
  | 'ERR_WEBGPU'
  | 'ERR_WORKER'
  | 'ERR_FETCH'
  | 'ERR_WASM_TRAP'
  | 'ERR_INTERNAL';

/**
 * Every failure of the package (cancelling aside, which rejects with the AbortSignal's reason).
 * Branch on `code`; the message is for people and may be reworded.
 *
 * ERR_TOO_LARGE: more than one call into the wasm module may take (readNpy's cap, weights over
 * 1 GiB, `add` with reassignChanged over 65,536 rows), or more than the JavaScript engine could
 * allocate. ERR_WASM_TRAP: the wasm module trapped (most likely an allocation past its memory,
 * else a bug; no input the package accepts should get there): that call rejects, the module is
 * restarted from the same compiled module, and later calls work: encoders rebuild their model
 * from the weights they keep (and set WebGPU up again when next used), but an IdTable made
 * before lived in the dead module's memory and every later call on it fails with ERR_WASM_TRAP;
 * load it again from its last saved JSON Lines.
 */
export class RqvaeError extends Error {
  name: 'RqvaeError' | 'CpuWorkerError';
  readonly code: RqvaeErrorCode;
  constructor(code: RqvaeErrorCode, message: string, options?: { cause?: unknown });
}

export class Encoder {
  /** Use Encoder.load or Encoder.loadDefault. */
  private constructor();
  /**
   * Loads `.safetensors` weights from `rqvae-train export`: their bytes, a Response, or where to
   * fetch them. Rejects with ERR_WEIGHTS on bad weights, ERR_FETCH when they cannot be fetched or
   * read, ERR_INPUT for a source of another type, ERR_TOO_LARGE over 1 GiB. The encoder keeps a
   * copy of the weights, to rebuild its model if the wasm module traps and is restarted.
   */
  static load(weights: AssetSource, options?: LoadOptions): Promise<Encoder>;
  /**
   * Loads a model shipped with the package: `model: 'mpnet'` (the default, for
   * all-mpnet-base-v2's 768-d vectors; from `defaultModelUrl`) or `'minilm'` (for
   * all-MiniLM-L6-v2's 384-d vectors, the default text model's; from `miniLmModelUrl`), or from
   * `url` where the app serves its own copy.
   */
  static loadDefault(options?: LoadOptions & { url?: URL | string; model?: 'mpnet' | 'minilm' }): Promise<Encoder>;
  readonly config: RqVaeConfig;
  /** Workers the CPU backend encodes on (1: the calling thread). */
  readonly threads: number;
  /** The backend of the last encode (before any, the one requested; 'cpu' for 'auto'). */
  readonly backend: 'cpu' | 'webgpu';
  readonly hasDecoder: boolean;
  /** The model's fingerprint (`sha256:…`), as ID tables record it. */
  readonly fingerprint: string;
  /**
   * Semantic IDs, row-major N × levels. Float16 input is given as its bit patterns (Uint16Array).
   * With `threads` > 1, a worker that dies rejects the call with a CpuWorkerError and is replaced
   * before the next one.
   */
  encode(rows: Float32Array | Uint16Array, options?: EncodeOptions): Promise<Uint16Array>;
  /**
   * Reconstructed vectors, row-major N × input_dim (models exported with their decoder),
   * decoded `batchSize` rows per call into the wasm module (default 16,384, at most 65,536 as
   * for encode) and assembled in JavaScript.
   */
  decode(ids: Uint16Array | number[], options?: { batchSize?: number }): Promise<Float32Array>;
  /**
   * The encoder's outputs (the latents the codes quantize): N × `latent_dim`, on the CPU in this
   * thread. `mapLayout` lays them out as a map.
   */
  latents(rows: Float32Array | Uint16Array, options?: { dim?: number; batchSize?: number; signal?: AbortSignal }): Promise<Float32Array>;
  /** Releases the model and stops its CPU workers; later calls reject. */
  free(): void;
}

/** Options of SentenceEncoder.embed. */
export interface EmbedOptions {
  /** Texts per call into the wasm module (default 256 on the CPU, 1,024 on WebGPU; 1 to 65,536). */
  batchSize?: number;
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Cancels between batches: the embed rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Sizes, pooling, normalisation and maximum length of a text model. */
export interface TextModelConfig {
  bert: {
    vocab_size: number;
    hidden_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    intermediate_size: number;
    max_position_embeddings: number;
    type_vocab_size: number;
    layer_norm_eps: number;
  };
  pooling: 'mean' | 'cls';
  normalize: boolean;
  /** Tokens per text, [CLS] and [SEP] included; longer texts are truncated. */
  max_seq_length: number;
}

/**
 * Texts in, sentence vectors out: a BERT sentence encoder (all-MiniLM-L6-v2 by default) in the
 * package's text module, loaded only when used. Its vectors equal sentence-transformers' (cosine
 * at least 0.9999); an Encoder of the matching model turns them into semantic IDs.
 */
export class SentenceEncoder {
  /** Use SentenceEncoder.load or SentenceEncoder.loadDefault. */
  private constructor();
  /**
   * Loads a text model bundle (`rqvae-train export --text-model DIR --out FILE`). Rejects with
   * ERR_TEXT_MODEL for a file that is not one (or not a supported model), ERR_FETCH when it
   * cannot be fetched or read.
   */
  static load(bundle: AssetSource, options?: LoadOptions): Promise<SentenceEncoder>;
  /** Loads the default text model shipped with the package (from `defaultTextModelUrl`, or `url`). */
  static loadDefault(options?: LoadOptions & { url?: URL | string }): Promise<SentenceEncoder>;
  /** The width of the vectors (384 for the default model). */
  readonly dim: number;
  readonly config: TextModelConfig;
  /** Where the model's weights came from, as its bundle says. */
  readonly source: string;
  /** Workers the CPU backend embeds on (1: the calling thread). */
  readonly threads: number;
  /** The backend of the last embed (before any, the one requested; 'cpu' for 'auto'). */
  readonly backend: 'cpu' | 'webgpu';
  /** Token ids: [CLS], WordPiece tokens, [SEP], truncated at the model's maximum length. */
  tokenize(text: string): Promise<Uint32Array>;
  /** Vectors of `texts`, row-major `texts.length × dim`; the empty string too, as `[CLS] [SEP]`. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array>;
  /** Releases the model and stops its workers; later calls reject. */
  free(): void;
}

/**
 * Loads the text module once (SentenceEncoder calls it); call it first with `{ wasm }` to load
 * the module from elsewhere than next to this package's files.
 */
export function initTextWasm(options?: { wasm?: AssetSource | WebAssembly.Module }): Promise<void>;

/** A CPU worker died during a call (or could not start); the message says why. */
export class CpuWorkerError extends RqvaeError {
  /** Made by the package only. */
  private constructor();
  name: 'CpuWorkerError';
  readonly code: 'ERR_WORKER';
}

/**
 * Parses `.npy` bytes (2-D, little-endian float32 or float16, C order). The file and its float32
 * array are both in wasm memory during the call, so a file whose float32 array would pass
 * `maxBytes` (default 1 GiB: 349,525 rows of 768; at most 1.5 GiB) is refused from its header,
 * before anything is copied (ERR_TOO_LARGE, naming the size and the cap); read such files with
 * `encodeStream`, batch by batch.
 */
export function readNpy(bytes: Uint8Array | ArrayBuffer, options?: { maxBytes?: number }): Promise<{
  data: Float32Array;
  rows: number;
  dim: number;
  dtype: 'float32' | 'float16';
}>;

/** Whether a WebGPU adapter is available here. */
export function webgpuAvailable(): Promise<boolean>;

/**
 * Loads the wasm module once (every function calls it; call it early to warm it up). `wasm`
 * loads the module from elsewhere than next to the package's modules (a copy the app hosts, or
 * an already compiled module); it must come before any other call, or the call rejects with
 * ERR_OPTION. A failed load rejects (ERR_FETCH) and may be retried. After a trap
 * (ERR_WASM_TRAP) it resolves once the restarted module runs.
 */
export function initWasm(options?: { wasm?: AssetSource | WebAssembly.Module }): Promise<void>;

/**
 * Which wasm module runs: `'relaxed-simd'` (the CPU encode on fused multiply-adds, where the
 * engine has relaxed SIMD: Chromium 114+, Firefox 120+, Node.js 22+), `'simd128'` (every other
 * engine) or `'custom'` (loaded by `initWasm({ wasm })`). Both give the same IDs.
 */
export function wasmVariant(): Promise<'relaxed-simd' | 'simd128' | 'custom'>;

/**
 * The default model's URL, next to the package's modules: in a bundled app, the URL of the
 * copy the bundler emitted; in Node.js a file: URL. For apps that host the file themselves, it
 * is also exported as `rqvae/models/default.safetensors` (and the wasm as `rqvae/rqvae_bg.wasm`).
 */
export const defaultModelUrl: string;

/** Where the shipped model for all-MiniLM-L6-v2's 384-d vectors is (www/models/minilm.safetensors). */
export const miniLmModelUrl: string;

/** Where the default text model's bundle is (www/models/minilm-l6-v2.text.safetensors). */
export const defaultTextModelUrl: string;

export type ItemId = number | string;

/** The header every ID table records once. */
export interface IdTableHeader {
  format: 'rqvae-id-table';
  version: number;
  /** Fingerprint of the model that made the table. */
  model: string;
  levels: number;
  codebookSize: number;
  /** 'reassign': a taken (A, B, C) moves to the next-best free last-level code; 'suffix': TIGER-style numbering only. */
  resolution: 'reassign' | 'suffix';
}

export interface IdTableEntry {
  id: ItemId;
  /** One code per level, then the disambiguation code. */
  codes: number[];
  /** `<a_12><b_7><c_201><d_0>` */
  tokens: string;
  /** The nearest last-level code when collision resolution moved the item off it, else null. */
  reassignedFrom: number | null;
}

/** One prefix's automatic label (`IdTable.prefixLabels`). */
export interface PrefixLabel {
  /** Its codes from level A down. */
  prefix: number[];
  /** The codes joined by "/": the key of labels files and of `names`. */
  key: string;
  /** Entries under the prefix, and of them those with a title. */
  items: number;
  titled: number;
  /** The distinctive terms, the most distinctive first; empty without titles. */
  terms: string[];
  /** The terms joined by " · ". */
  label: string;
  /** The editor's name, if `names` gave one, else null. */
  name: string | null;
}

export interface LevelUsage {
  used: number;
  dead: number;
  utilisation: number;
  perplexity: number;
  gini: number;
  entropyRatio: number;
}

/** What one `add` did. Shares are fractions (0–1) over the whole table afterwards. */
export interface AssignReport {
  rows: number;
  added: number;
  kept: number;
  /** Ids already in the table whose embedding now gives other nearest codes. */
  changed: ItemId[];
  reassignedChanged: number;
  moved: number;
  suffixed: number;
  tableItems: number;
  uniqueNearest: number;
  uniqueAssigned: number;
  uniqueFull: number;
  /** Mean cosine(input, decode(codes)) over the rows given, nearest vs assigned; null without a decoder. */
  cost: {
    cosineNearest: number;
    cosineAssigned: number;
    movedCosineNearest: number;
    movedCosineAssigned: number;
    /** Rows whose assigned (A, B, C) is not their nearest: the count the moved means are over. */
    movedRows: number;
  } | null;
}

export interface TableQuality {
  items: number;
  levels: LevelUsage[];
  uniqueFraction: number;
  uniqueNearestFraction: number;
  collisionFreeRate: number;
  largestGroup: number;
  uniqueFullFraction: number;
  moved: number;
  suffixed: number;
}

export interface Churn {
  common: number;
  changed: number;
  churn: number;
  onlyPrevious: number;
  onlyCurrent: number;
}

export interface AddOptions {
  /** One id per row; without them, row numbers counted on from the table's size. */
  ids?: ItemId[];
  /** Values per row; defaults to the model's input_dim. */
  dim?: number;
  /**
   * Re-assign existing items whose embedding now gives other codes (default: only report them).
   * Needs every row in one call into the wasm module: more than 65,536 rows (of 768 values) are
   * refused (ERR_TOO_LARGE); add them in several calls.
   */
  reassignChanged?: boolean;
  /**
   * Rows per call into the wasm module (default 16,384; at most 65,536, as for encode). More rows
   * go in batches with the same table and report as one call (the cost means equal up to float
   * rounding); ignored with `reassignChanged`.
   */
  batchSize?: number;
  /**
   * With titles as the rows (an array of strings): the SentenceEncoder whose vectors the
   * encoder's model was trained on. A blank title is refused (ERR_INPUT), a text model of another
   * width than the model's input (ERR_DIMENSION).
   */
  textEncoder?: SentenceEncoder;
  /** Progress of embedding titles. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Cancels embedding titles. */
  signal?: AbortSignal;
}

/** Options of the token exports (`toVocabularyJson`, `toTokensJsonl`, …). */
export interface TokenExportOptions {
  /**
   * Token id of `<a_0>`, the first of the IDs' tokens (default 0): a language model's vocabulary
   * size puts them after its own tokens. A non-negative safe integer (else ERR_OPTION).
   */
  tokenOffset?: number;
}

/**
 * Unique, stable semantic IDs: the same table `rqvae-train assign` writes. A table lives in the
 * wasm module's memory: if the module traps, every later call on the table throws or rejects
 * with ERR_WASM_TRAP (save it with `toJsonl()` to be able to load it again).
 */
export class IdTable {
  /** Use IdTable.create, IdTable.assign or IdTable.load. */
  private constructor();
  /** An empty table for the encoder's model. */
  static create(encoder: Encoder, options?: { reassign?: boolean }): Promise<IdTable>;
  /** `create` then `add`. */
  static assign(
    encoder: Encoder,
    rows: Float32Array | Uint16Array | string[],
    options?: AddOptions & { reassign?: boolean },
  ): Promise<{ table: IdTable; report: AssignReport }>;
  /** Parses and checks a table's JSON Lines; rejects with the line of what is wrong. */
  static load(jsonl: string | Uint8Array | ArrayBuffer): Promise<IdTable>;
  /** Adds items without changing existing lines; rejects (table unchanged) for another model or bad input. */
  add(encoder: Encoder, rows: Float32Array | Uint16Array | string[], options?: AddOptions): Promise<AssignReport>;
  readonly size: number;
  readonly header: IdTableHeader;
  entries(): IdTableEntry[];
  quality(): TableQuality;
  churn(previous: IdTable): Churn;
  toJsonl(): string;
  toCsv(): string;
  toLcRecJson(): string;
  /**
   * The vocabulary of the IDs' tokens (JSON, as `rqvae-train tokens` writes vocabulary.json):
   * token id `tokenOffset + level × codebookSize + code`, the disambiguation level last.
   */
  toVocabularyJson(options?: TokenExportOptions): string;
  /** Every item's `{ id, tokens, token_ids }`, one JSON object a line (tokens.jsonl). */
  toTokensJsonl(options?: TokenExportOptions): string;
  /** Every item's tokens as CSV: `item_id,tokens,token_ids` (tokens.csv). */
  toTokensCsv(options?: TokenExportOptions): string;
  /** The prefix tree for constrained decoding (JSON, prefix-tree.json). */
  toPrefixTreeJson(options?: TokenExportOptions): string;
  /**
   * A label for every prefix from the entries' titles (one per entry, in table order; null for
   * none): the terms most distinctive of the prefix against its siblings. `names` (an editor's,
   * from `readLabels`) come back as each label's `name`.
   */
  prefixLabels(
    titles: (string | null | undefined)[],
    options?: { terms?: number; names?: Map<string, string> | Record<string, string> },
  ): PrefixLabel[];
  /** An editor's names (prefix key → name) from a labels file made for this table. */
  readLabels(text: string): Map<string, string>;
  /** The labels file of this table for `names` (prefix key → name). */
  labelsFile(names: Map<string, string> | Record<string, string>): string;
  /** Positions, in table order, of the entries under a prefix (codes, or a key such as "51/3"). */
  selectPrefix(prefix: number[] | string): Uint32Array;
  free(): void;
}

// ---------------------------------------------------------------------------------------------
// Streaming: files of any size in bounded memory (js/stream.js, js/code-usage.js)

/**
 * What the streaming functions read: a Blob or File, a ReadableStream of bytes, any (async)
 * iterable of Uint8Array chunks (in Node.js, `fs.createReadStream(path)`), or bytes in memory.
 * Chunks must not be changed after they are handed over (batches may be views of them).
 */
export type ByteSourceInput =
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array
  | ArrayBuffer;

export type EmbeddingsFormat = 'npy' | 'jsonl' | 'csv';

/** The sizes in a `.npy` header, known before any row is read. */
export interface NpyHeader {
  rows: number;
  dim: number;
  dtype: 'float32' | 'float16';
}

export interface ReadOptions {
  /** 'npy' (float32 or float16), 'jsonl' or 'csv'; default: from the name's extension. */
  format?: EmbeddingsFormat;
  /** The source's name for messages (and its format); default: a File's name or a Node.js file stream's path. */
  name?: string;
  /**
   * The source's length in bytes, for a stream that cannot tell (a Blob's or bytes' own length is
   * used anyway): a truncated `.npy` is then refused before any row, and progress has a total.
   */
  size?: number;
  /** Rows per batch (default 4096; fewer where 4096 rows would pass 64 MiB). */
  batchRows?: number;
  /** Cancels: the iteration rejects with `signal.reason`, and the source is closed. */
  signal?: AbortSignal;
  /** `.npy` only: the header's sizes, before the first batch. Throw to stop. */
  onHeader?: (header: NpyHeader) => void;
}

/** One batch of rows as read (readEmbeddings). */
export interface EmbeddingsBatch {
  /** The first row's number in the file (rows count from 0). */
  start: number;
  count: number;
  dim: number;
  dtype: 'float32' | 'float16';
  /** count × dim values: float32, or float16 bit patterns (which `encode` takes as they are). */
  rows: Float32Array | Uint16Array;
  /** JSON Lines and CSV: the rows' ids (CSV ids are strings). */
  ids?: ItemId[];
  /** JSON Lines and CSV: the rows' titles ('' where none). */
  titles?: string[];
  /** Bytes of the source read when the batch was complete. */
  bytesRead: number;
}

/** One encoded batch (encodeStream). */
export interface EncodedBatch {
  start: number;
  count: number;
  /** Semantic IDs, count × levels, row-major. */
  ids: Uint16Array;
  /** The batch's embeddings (to add them to an IdTable, say). Not kept by the stream. */
  rows: Float32Array | Uint16Array;
  dim: number;
  dtype: 'float32' | 'float16';
  /** JSON Lines and CSV: the rows' own ids and titles. */
  itemIds?: ItemId[];
  titles?: string[];
}

export interface StreamProgress {
  rowsDone: number;
  /** `.npy`: the rows its header gives; else undefined. */
  totalRows?: number;
  bytesRead: number;
  /** The source's size where known (Blob, bytes, or the `size` option). */
  totalBytes?: number;
}

/**
 * Reads embeddings from `source` in batches of whole rows, as they arrive, without encoding them.
 * Every value is checked finite; an error is an RqvaeError naming the source and the row or line
 * (ERR_NPY, ERR_TOO_LARGE, ERR_INPUT, ERR_DIMENSION, ERR_NON_FINITE; ERR_FETCH when the source
 * itself fails to read). `.npy` headers are read by the same Rust reader as the CLI's.
 *
 * Memory is bounded by the batch, not the file: the batch being filled (at most `batchRows` rows,
 * and never more than 64 MiB), one chunk of the source (longer chunks are cut to 1 MiB), and for
 * JSON Lines and CSV the longest line.
 */
export function readEmbeddings(
  source: ByteSourceInput,
  options?: ReadOptions & { /** Rows must have this dimension (checked before any row). */ dim?: number },
): AsyncGenerator<EmbeddingsBatch, void, undefined>;

/**
 * Encodes `source` batch by batch as it is read, yielding each batch's IDs as soon as they are
 * made; while you handle one batch, the next is read and encoded (on the encoder's workers, if it
 * has any). Rows must have the model's dimension (checked from the header or first row).
 *
 * Memory is bounded by the batch size, not the file: at most three batches of rows (being read,
 * being encoded, handed to you; with the defaults about 3 × 4,096 × 768 × 4 bytes ≈ 38 MB; more
 * only where one source chunk completes several small batches at once), one chunk of the source
 * (cut to 1 MiB), and for JSON Lines and CSV the longest line. Keep only what you need of each
 * batch (the IDs are 6 bytes a row for 3 levels).
 *
 * Cancelling rejects with `signal.reason`; every other failure is an RqvaeError (see
 * readEmbeddings) whose message names the source. The source is closed when the iteration ends,
 * fails, or is left early.
 */
export function encodeStream(
  encoder: Encoder,
  source: ByteSourceInput,
  options?: ReadOptions & { onProgress?: (progress: StreamProgress) => void },
): AsyncGenerator<EncodedBatch, void, undefined>;

/**
 * Reads an items file, JSON Lines of `{"id", "title"?}` (line i names row i of an `.npy`), in
 * chunks. Rejects (ERR_INPUT) with the line of a bad one, or when `expectedRows` is given and the
 * file names another number of items.
 */
export function readItems(
  source: ByteSourceInput,
  options?: {
    name?: string;
    size?: number;
    expectedRows?: number;
    signal?: AbortSignal;
    onProgress?: (progress: { bytesRead: number; totalBytes?: number }) => void;
  },
): Promise<{ ids: ItemId[]; titles: string[] }>;

/**
 * Reads a catalog's titles for a SentenceEncoder: JSON Lines of `{"id"?, "title"}` or CSV with a
 * header (`id,title,…`; ids are strings, as CSV gives them), read whole. `ids[i]` is undefined
 * where a row has none. A blank title, a missing field or a ragged row is refused with its line
 * (ERR_INPUT).
 */
export function readTitles(
  source: ByteSourceInput,
  options?: {
    format?: 'jsonl' | 'csv';
    /** The JSON key or CSV column holding the title (default "title"). */
    field?: string;
    name?: string;
    size?: number;
    signal?: AbortSignal;
    onProgress?: (progress: { bytesRead: number; totalBytes?: number }) => void;
  },
): Promise<{ ids: (ItemId | undefined)[]; titles: string[] }>;

/** What `codeUsage` reports: the trainer's metrics of a set of IDs. */
export interface CodeUsage {
  /** Per level: used and dead codes, utilisation, perplexity, Gini, entropy ratio. */
  levels: LevelUsage[];
  /** Distinct full (A, B, C, …) tuples. */
  unique: number;
  rows: number;
}

/**
 * Code usage of IDs (N × levels, row-major, as `encode` returns them) by the trainer's own
 * definitions (the same code as `rqvae-train eval`). Rejects with ERR_IDS for IDs that are not
 * whole rows, ERR_ID_RANGE for a code outside the codebook.
 */
export function codeUsage(ids: Uint16Array, options: { levels: number; codebookSize: number }): Promise<CodeUsage>;

/**
 * Labels for the prefixes of any codes (`levels` per item, row-major: an encode's IDs), from the
 * items' titles, as `IdTable.prefixLabels` gives for a table's entries.
 */
export function prefixLabels(
  codes: Uint16Array | Uint32Array | number[],
  options: {
    levels: number;
    titles: (string | null | undefined)[];
    terms?: number;
    names?: Map<string, string> | Record<string, string>;
  },
): Promise<PrefixLabel[]>;

/** A step of `mapLayout`: the positions (N × 2) after `epochsDone` of `epochs` (0: the start). */
export interface MapProgress {
  epochsDone: number;
  epochs: number;
  positions: Float32Array;
}

/**
 * A 2-D map of latents (N × `dim`, an Encoder's `latents`) in which neighbours stay neighbours
 * (UMAP): resolves to N × 2 positions. Rejects with ERR_NON_FINITE for a NaN or infinite value
 * (row and value named), ERR_INPUT for too few items, ERR_OPTION for a bad option.
 */
export function mapLayout(
  latents: Float32Array,
  options: {
    dim: number;
    neighbours?: number;
    epochs?: number;
    seed?: number;
    stepEpochs?: number;
    signal?: AbortSignal;
    onProgress?: (progress: MapProgress) => void;
  },
): Promise<Float32Array>;
