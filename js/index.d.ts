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
  /** Cancels between batches; the Promise then rejects. */
  signal?: AbortSignal;
}

/** Rows from which 'auto' prefers WebGPU when an adapter exists. */
export const AUTO_WEBGPU_MIN_ROWS: number;

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

export class Encoder {
  /** Loads `.safetensors` weights from `rqvae-train export`. Rejects with a message on bad weights. */
  static load(weights: Uint8Array | ArrayBuffer, options?: LoadOptions): Promise<Encoder>;
  /** Loads the default model shipped with the package. */
  static loadDefault(options?: LoadOptions): Promise<Encoder>;
  readonly config: RqVaeConfig;
  /** Workers the CPU backend encodes on (1: the calling thread). */
  readonly threads: number;
  /** The backend of the last encode (before any, the one requested; 'cpu' for 'auto'). */
  readonly backend: 'cpu' | 'webgpu';
  readonly hasDecoder: boolean;
  /** Semantic IDs, row-major N × levels. Float16 input is given as its bit patterns (Uint16Array). */
  encode(rows: Float32Array | Uint16Array, options?: EncodeOptions): Promise<Uint16Array>;
  /** Reconstructed vectors, row-major N × input_dim (models exported with their decoder). */
  decode(ids: Uint16Array | number[]): Promise<Float32Array>;
  /** Releases the model and stops its CPU workers; later calls reject. */
  free(): void;
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

/** Loads the wasm module (called by every function; exposed to warm it up early). */
export function initWasm(): Promise<void>;
