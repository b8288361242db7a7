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
  /** Rows per forward pass (default 2048). */
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
  | 'ERR_NPY'
  | 'ERR_TOO_LARGE'
  | 'ERR_ID_RANGE'
  | 'ERR_IDS'
  | 'ERR_TABLE'
  | 'ERR_MODEL_MISMATCH'
  | 'ERR_FREED'
  | 'ERR_NO_WEBGPU'
  | 'ERR_WEBGPU'
  | 'ERR_WORKER'
  | 'ERR_FETCH'
  | 'ERR_INTERNAL';

/**
 * Every failure of the package (cancelling aside, which rejects with the AbortSignal's reason).
 * Branch on `code`; the message is for people and may be reworded.
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
   * read, ERR_INPUT for a source of another type.
   */
  static load(weights: AssetSource, options?: LoadOptions): Promise<Encoder>;
  /**
   * Loads the default model shipped with the package: from `defaultModelUrl` (where bundlers
   * emit it), or from `url` where the app serves its own copy.
   */
  static loadDefault(options?: LoadOptions & { url?: URL | string }): Promise<Encoder>;
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
  /** Reconstructed vectors, row-major N × input_dim (models exported with their decoder). */
  decode(ids: Uint16Array | number[]): Promise<Float32Array>;
  /** Releases the model and stops its CPU workers; later calls reject. */
  free(): void;
}

/** A CPU worker died during a call (or could not start); the message says why. */
export class CpuWorkerError extends RqvaeError {
  /** Made by the package only. */
  private constructor();
  name: 'CpuWorkerError';
  readonly code: 'ERR_WORKER';
}

/** Parses `.npy` bytes (2-D, little-endian float32 or float16, C order). */
export function readNpy(bytes: Uint8Array | ArrayBuffer): Promise<{
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
 * ERR_OPTION. A failed load rejects (ERR_FETCH) and may be retried.
 */
export function initWasm(options?: { wasm?: AssetSource | WebAssembly.Module }): Promise<void>;

/**
 * The default model's URL, next to the package's modules: in a bundled app, the URL of the
 * copy the bundler emitted; in Node.js a file: URL. For apps that host the file themselves, it
 * is also exported as `rqvae/models/default.safetensors` (and the wasm as `rqvae/rqvae_bg.wasm`).
 */
export const defaultModelUrl: string;

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
  /** Re-assign existing items whose embedding now gives other codes (default: only report them). */
  reassignChanged?: boolean;
}

/** Unique, stable semantic IDs: the same table `rqvae-train assign` writes. */
export class IdTable {
  /** Use IdTable.create, IdTable.assign or IdTable.load. */
  private constructor();
  /** An empty table for the encoder's model. */
  static create(encoder: Encoder, options?: { reassign?: boolean }): Promise<IdTable>;
  /** `create` then `add`. */
  static assign(
    encoder: Encoder,
    rows: Float32Array | Uint16Array,
    options?: AddOptions & { reassign?: boolean },
  ): Promise<{ table: IdTable; report: AssignReport }>;
  /** Parses and checks a table's JSON Lines; rejects with the line of what is wrong. */
  static load(jsonl: string | Uint8Array | ArrayBuffer): Promise<IdTable>;
  /** Adds items without changing existing lines; rejects (table unchanged) for another model or bad input. */
  add(encoder: Encoder, rows: Float32Array | Uint16Array, options?: AddOptions): Promise<AssignReport>;
  readonly size: number;
  readonly header: IdTableHeader;
  entries(): IdTableEntry[];
  quality(): TableQuality;
  churn(previous: IdTable): Churn;
  toJsonl(): string;
  toCsv(): string;
  toLcRecJson(): string;
  free(): void;
}
