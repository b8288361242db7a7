// Encoder: loads a model and turns embeddings into semantic IDs (and IDs back into vectors). It
// batches rows, reports progress, chooses the backend and turns every failure into a rejected
// Promise with an RqvaeError.

import { WasmEncoder, f16ToF32 } from '../pkg/rqvae.js';
import { AUTO_WEBGPU_MIN_ROWS, webgpuAdapterKind, webgpuAvailable } from './adapter.js';
import { defaultModelUrl } from './assets.js';
import { checkRows, wasmEncoders } from './checks.js';
import { CpuPool } from './cpu-pool.js';
import { RqvaeError, toError } from './errors.js';
import { sourceBytes } from './sources.js';
import { compiledWasm, initWasm } from './wasm.js';

const DEFAULT_BATCH = 2048;

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

export class Encoder {
  #inner;
  #pool;
  #preference;
  #backend;
  #config;

  constructor(inner, preference, pool) {
    this.#inner = inner;
    this.#pool = pool;
    this.#preference = preference;
    this.#backend = preference === 'webgpu' ? 'webgpu' : 'cpu';
    this.#config = JSON.parse(inner.configJson());
    wasmEncoders.set(this, inner);
  }

  /**
   * Loads weights (`.safetensors` from `rqvae-train export`): their bytes, a fetch Response, or
   * where to fetch them (a URL or URL string; in Node.js also a file: URL or a path).
   * @param {Uint8Array | ArrayBuffer | Response | URL | string} weights
   * @param {{ backend?: 'auto' | 'webgpu' | 'cpu', threads?: number }} [options] `threads` > 1
   *   runs CPU encodes on that many workers (each with its own wasm instance)
   */
  static async load(weights, options) {
    return Encoder.#load(weights, 'weights', options);
  }

  /**
   * Loads the default model shipped with the package, from next to its modules (where bundlers
   * emit it), or from `url` where the app serves its own copy.
   * @param {{ url?: URL | string, backend?: 'auto' | 'webgpu' | 'cpu', threads?: number }} [options]
   */
  static async loadDefault({ url, ...options } = {}) {
    if (url !== undefined && typeof url !== 'string' && !(url instanceof URL)) {
      throw new RqvaeError('ERR_INPUT', `url must be a URL or a URL string, got ${Object.prototype.toString.call(url)}`);
    }
    return Encoder.#load(url ?? defaultModelUrl, 'the default model', options);
  }

  static async #load(source, what, { backend = 'auto', threads = 1 } = {}) {
    if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
      throw new RqvaeError('ERR_OPTION', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
    }
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new RqvaeError('ERR_OPTION', `threads must be an integer from 1 to 256, got ${JSON.stringify(threads)}`);
    }
    // Together, so that the wasm's compilation overlaps the weights' download.
    const [, bytes] = await Promise.all([initWasm(), sourceBytes(source, what)]);
    let inner;
    try {
      inner = new WasmEncoder(bytes);
    } catch (e) {
      throw toError(e);
    }
    let pool;
    if (threads > 1 && backend !== 'webgpu') {
      try {
        pool = await CpuPool.start(threads, await compiledWasm(), bytes);
      } catch (e) {
        inner.free();
        throw new RqvaeError('ERR_WORKER', `could not start ${threads} CPU workers: ${e.message}`, { cause: e });
      }
    }
    const encoder = new Encoder(inner, backend, pool);
    if (backend === 'webgpu') {
      try {
        await encoder.#ensureWebGpu();
      } catch (e) {
        inner.free();
        throw e;
      }
    }
    return encoder;
  }

  /** The model's sizes: input_dim, hidden_dims, latent_dim, levels, codebook_size. */
  get config() {
    return { ...this.#config, hidden_dims: [...this.#config.hidden_dims] };
  }

  /** The model's fingerprint (`sha256:…`): ID tables record the model that made them by it. */
  get fingerprint() {
    return this.#live().fingerprint;
  }

  /** Workers the CPU backend encodes on (1: the calling thread). */
  get threads() {
    return this.#pool?.size ?? 1;
  }

  /** 'cpu' or 'webgpu': the backend of the last encode (before any, the one requested). */
  get backend() {
    return this.#backend;
  }

  /** Whether `decode` can reconstruct vectors (the model was exported with its decoder). */
  get hasDecoder() {
    return this.#live().hasDecoder();
  }

  #live() {
    if (!this.#inner) throw new RqvaeError('ERR_FREED', 'this encoder has been freed; load a new one');
    return this.#inner;
  }

  async #ensureWebGpu() {
    const inner = this.#live();
    if (inner.hasWebGpu()) return;
    if (!(await webgpuAvailable())) {
      throw new RqvaeError('ERR_NO_WEBGPU', 'WebGPU was requested but this browser offers no WebGPU adapter; use backend "cpu" or "auto"');
    }
    try {
      await inner.initWebGpu();
    } catch (e) {
      throw new RqvaeError('ERR_WEBGPU', `WebGPU initialisation failed: ${e?.message ?? e}`, { cause: e });
    }
  }

  async #chooseBackend(rows) {
    if (this.#preference === 'cpu') return 'cpu';
    if (this.#preference === 'webgpu') return 'webgpu';
    // By the adapter, not the row count alone: a software adapter loses to the CPU path at
    // every size, a hardware one wins from a few dozen rows (js/adapter.js).
    if (rows >= AUTO_WEBGPU_MIN_ROWS && (await webgpuAdapterKind()) === 'hardware') {
      try {
        await this.#ensureWebGpu();
        return 'webgpu';
      } catch {
        return 'cpu';
      }
    }
    return 'cpu';
  }

  /**
   * Semantic IDs of `rows` (row-major, `dim` values per row): a Uint16Array of N × levels.
   * @param {Float32Array | Uint16Array} rows float32 values, or float16 bit patterns
   * @param {{ dim?: number, batchSize?: number, onProgress?: (p: {done: number, total: number}) => void, signal?: AbortSignal }} [options]
   */
  async encode(rows, { dim, batchSize = DEFAULT_BATCH, onProgress, signal } = {}) {
    const inner = this.#live();
    const { n, width, isF16 } = checkRows(rows, dim, this.#config.input_dim);
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RqvaeError('ERR_OPTION', `batchSize must be a positive integer, got ${batchSize}`);
    }
    const levels = this.#config.levels;
    const backend = await this.#chooseBackend(n);
    const out = new Uint16Array(n * levels);
    if (backend === 'cpu' && this.#pool) {
      await this.#pool.encode(rows, { width, isF16, batchSize, levels, out, onProgress, signal });
      this.#backend = backend;
      return out;
    }
    for (let start = 0; start < n; start += batchSize) {
      signal?.throwIfAborted();
      // free() may have run while this encode yielded; the wasm object is gone then.
      if (this.#inner !== inner) throw new RqvaeError('ERR_FREED', 'this encoder was freed while encoding; load a new one');
      const end = Math.min(n, start + batchSize);
      const slice = rows.subarray(start * width, end * width);
      const batch = isF16 ? f16ToF32(slice) : slice;
      let ids;
      try {
        ids = backend === 'webgpu'
          ? await inner.encodeWebGpu(batch, width, start)
          : inner.encodeCpu(batch, width, start);
      } catch (e) {
        throw toError(e);
      }
      out.set(ids, start * levels);
      onProgress?.({ done: end, total: n });
      if (end < n) await yieldToEventLoop();
    }
    this.#backend = backend;
    return out;
  }

  /**
   * Decoder reconstructions of IDs (N × levels, row-major): a Float32Array of N × input_dim.
   * @param {Uint16Array | number[]} ids
   */
  async decode(ids) {
    const inner = this.#live();
    if (!(ids instanceof Uint16Array)) {
      if (!Array.isArray(ids)) throw new RqvaeError('ERR_INPUT', 'ids must be a Uint16Array or an array of numbers');
      // Uint16Array.from would wrap 65541 to 5 and decode a code nobody asked for.
      const size = this.#config.codebook_size;
      const bad = ids.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= size);
      if (bad >= 0) {
        const levels = this.#config.levels;
        throw new RqvaeError('ERR_ID_RANGE', `ID ${ids[bad]} at row ${Math.floor(bad / levels)}, level ${bad % levels} is outside the codebook (size ${size})`);
      }
    }
    const array = ids instanceof Uint16Array ? ids : Uint16Array.from(ids);
    try {
      return inner.decodeCpu(array);
    } catch (e) {
      throw toError(e);
    }
  }

  /** Releases the wasm memory and stops the CPU workers; later calls reject. */
  free() {
    if (this.#inner) {
      wasmEncoders.delete(this);
      this.#inner.free();
      this.#inner = undefined;
    }
    this.#pool?.terminate();
    this.#pool = undefined;
  }
}
