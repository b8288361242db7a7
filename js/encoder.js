// Encoder: loads a model and turns embeddings into semantic IDs (and IDs back into vectors). It
// batches rows, reports progress, chooses the backend and turns every failure into a rejected
// Promise with an RqvaeError.
//
// Its Rust object lives in one wasm instance; if that instance traps, the package starts a fresh
// one (js/wasm.js) and the encoder rebuilds its object there from the weights it keeps, on its
// next call, so one failed call never breaks the encoder.

import { WasmEncoder, f16ToF32 } from '../pkg/rqvae.js';
import { AUTO_WEBGPU_MIN_ROWS } from './adapter.js';
import { defaultModelUrl, miniLmModelUrl } from './assets.js';
import { checkRows, wasmEncoders } from './checks.js';
import { CpuPool } from './cpu-pool.js';
import { RqvaeError, toError } from './errors.js';
import { MAX_WEIGHTS_BYTES, checkBatchSize, maxBatchRows, showBytes } from './limits.js';
import { isLocation, sourceBytes } from './sources.js';
import { compiledWasm, initWasm, isLiveGeneration, onLiveWasm, unlessTrapped } from './wasm.js';
import {
  WasmObject, checkLoadOptions, checkUrl, chooseBackend, ensureWebGpu, finishLoad,
} from './wasm-object.js';

const DEFAULT_BATCH = 2048;
/**
 * Rows per WebGPU call when the caller gives no batchSize: on a hardware GPU (native Vulkan,
 * the default model) 4,096-row batches ran fastest per row; larger ones lost to host-side copies.
 */
const DEFAULT_WEBGPU_BATCH = 4096;
/**
 * WebGPU batches queued at once: while one batch's IDs are read back, the next is uploaded and
 * run, so the GPU does not idle through every read-back.
 */
const WEBGPU_IN_FLIGHT = 2;
/** Rows per decode call: 16,384 × 768 float32 are 48 MiB out, plus the decoder's layers. */
const DEFAULT_DECODE_BATCH = 16_384;

const freedError = () => new RqvaeError('ERR_FREED', 'this encoder has been freed; load a new one');

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The RQ-VAE module's loader, as WasmObject uses it. */
const LOADER = { onLiveWasm, isLiveGeneration, unlessTrapped };

export class Encoder {
  /** The WasmEncoder (a WasmObject: rebuilt from the weights' bytes after a trap). */
  #wasm;
  #pool;
  #preference;
  #backend;
  #config;
  #fingerprint;
  #hasDecoder;

  constructor(wasm, facts, preference, pool) {
    this.#wasm = wasm;
    this.#pool = pool;
    this.#preference = preference;
    this.#backend = preference === 'webgpu' ? 'webgpu' : 'cpu';
    // Read once: the getters must answer even while the instance is being replaced.
    [this.#config, this.#fingerprint, this.#hasDecoder] = facts;
    wasmEncoders.set(this, (what, fn) => wasm.call(what, fn));
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
   * Loads a model shipped with the package, from next to its modules (where bundlers emit it),
   * or from `url` where the app serves its own copy: `model: 'mpnet'` (the default; for
   * all-mpnet-base-v2's 768-d vectors) or `'minilm'` (for all-MiniLM-L6-v2's 384-d vectors, the
   * default text model's: titles → IDs with SentenceEncoder.loadDefault()).
   * @param {{ url?: URL | string, model?: 'mpnet' | 'minilm', backend?: 'auto' | 'webgpu' | 'cpu', threads?: number }} [options]
   */
  static async loadDefault({ url, model = 'mpnet', ...options } = {}) {
    checkUrl(url);
    if (model !== 'mpnet' && model !== 'minilm') {
      throw new RqvaeError('ERR_OPTION', `model must be 'mpnet' or 'minilm', got ${JSON.stringify(model)}`);
    }
    const shipped = model === 'minilm' ? miniLmModelUrl : defaultModelUrl;
    return Encoder.#load(url ?? shipped, model === 'minilm' ? 'the MiniLM model' : 'the default model', options);
  }

  static async #load(source, what, { backend = 'auto', threads = 1 } = {}) {
    checkLoadOptions(backend, threads);
    // Together, so that the wasm's compilation overlaps the weights' download.
    const [, fetched] = await Promise.all([initWasm(), sourceBytes(source, what)]);
    if (fetched.length > MAX_WEIGHTS_BYTES) {
      throw new RqvaeError('ERR_TOO_LARGE', `${what}: ${showBytes(fetched.length)}, more than the ${showBytes(MAX_WEIGHTS_BYTES)} this package loads into its wasm memory (rqvae models are a few MB); is this the right file?`);
    }
    // Kept to rebuild the model after a trap: a copy of bytes the caller may change later.
    const bytes = isLocation(source) ? fetched : fetched.slice();
    const wasm = await WasmObject.create(() => new WasmEncoder(bytes), LOADER, freedError, 'loading the weights');
    const facts = await wasm.call('reading the model', (inner) => [JSON.parse(inner.configJson()), inner.fingerprint, inner.hasDecoder()]);
    return finishLoad(wasm, {
      backend,
      threads,
      startPool: async () => CpuPool.start(threads, await compiledWasm(), bytes),
      make: (pool) => new Encoder(wasm, facts, backend, pool),
    });
  }

  /** The model's sizes: input_dim, hidden_dims, latent_dim, levels, codebook_size. */
  get config() {
    return { ...this.#config, hidden_dims: [...this.#config.hidden_dims] };
  }

  /** The model's fingerprint (`sha256:…`): ID tables record the model that made them by it. */
  get fingerprint() {
    this.#live();
    return this.#fingerprint;
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
    this.#live();
    return this.#hasDecoder;
  }

  #live() {
    this.#wasm.live();
  }

  /**
   * Semantic IDs of `rows` (row-major, `dim` values per row): a Uint16Array of N × levels.
   * @param {Float32Array | Uint16Array} rows float32 values, or float16 bit patterns
   * @param {{ dim?: number, batchSize?: number, onProgress?: (p: {done: number, total: number}) => void, signal?: AbortSignal }} [options]
   *   `batchSize`: rows per call, 1 to 65,536 (fewer for models wider than 2,048)
   */
  async encode(rows, { dim, batchSize, onProgress, signal } = {}) {
    this.#live();
    const { n, width, isF16 } = checkRows(rows, dim, this.#config.input_dim);
    // A bad batchSize is refused before any WebGPU set-up; the default depends on the backend.
    checkBatchSize(batchSize, width, DEFAULT_BATCH);
    const levels = this.#config.levels;
    // By the adapter, not the row count alone: a software adapter loses to the CPU path at
    // every size, a hardware one wins from a few dozen rows (js/adapter.js).
    const backend = await chooseBackend(this.#preference, this.#wasm, n >= AUTO_WEBGPU_MIN_ROWS);
    const batch = checkBatchSize(batchSize, width, backend === 'webgpu' ? DEFAULT_WEBGPU_BATCH : DEFAULT_BATCH);
    const out = new Uint16Array(n * levels);
    if (backend === 'cpu' && this.#pool) {
      await this.#pool.encode(rows, { width, isF16, batchSize: batch, levels, out, onProgress, signal });
    } else if (backend === 'webgpu') {
      await this.#encodeWebGpu(rows, { n, width, isF16, batch, levels, out, onProgress, signal });
    } else {
      for (let start = 0; start < n; start += batch) {
        this.#beforeBatch(signal);
        const end = Math.min(n, start + batch);
        const slice = rows.subarray(start * width, end * width);
        // Inside the call: widening float16 is a call into the module too.
        const ids = await this.#wasm.call('encode', (inner) => inner.encodeCpu(isF16 ? f16ToF32(slice) : slice, width, start));
        out.set(ids, start * levels);
        onProgress?.({ done: end, total: n });
        if (end < n) await yieldToEventLoop();
      }
    }
    this.#backend = backend;
    return out;
  }

  /** Checks made before every batch: the caller's abort, and free() run while an encode yielded. */
  #beforeBatch(signal) {
    signal?.throwIfAborted();
    if (this.#wasm.freed) throw new RqvaeError('ERR_FREED', 'this encoder was freed while encoding; load a new one');
  }

  /**
   * The WebGPU encode loop, with WEBGPU_IN_FLIGHT batches queued: batches are started in order and
   * their IDs written (and progress reported) in order; the first failure rejects the encode.
   */
  async #encodeWebGpu(rows, { n, width, isF16, batch, levels, out, onProgress, signal }) {
    // Each queued batch holds its rows in wasm memory until its IDs are back (rows near a tie are
    // re-decided on the CPU), so batches near the per-call cap run one at a time.
    const depth = batch * WEBGPU_IN_FLIGHT <= maxBatchRows(width) ? WEBGPU_IN_FLIGHT : 1;
    const inFlight = [];
    let next = 0;
    try {
      while (next < n || inFlight.length > 0) {
        while (next < n && inFlight.length < depth) {
          this.#beforeBatch(signal);
          // Again per batch: a trap elsewhere may have replaced the Rust object since the last one.
          await ensureWebGpu(this.#wasm);
          const start = next;
          const end = Math.min(n, start + batch);
          const slice = rows.subarray(start * width, end * width);
          const ids = this.#wasm.callAsync('encode (WebGPU)', (inner) => inner.encodeWebGpu(isF16 ? f16ToF32(slice) : slice, width, start));
          inFlight.push({ ids, start, end });
          next = end;
        }
        const { ids, start, end } = inFlight.shift();
        out.set(await ids, start * levels);
        onProgress?.({ done: end, total: n });
        if (end < n) this.#beforeBatch(signal);
      }
    } finally {
      // Batches still queued after a failure or an abort: their outcome no longer matters, and
      // must not surface as unhandled rejections.
      for (const { ids } of inFlight) ids.catch(() => {});
    }
  }

  /**
   * The encoder's outputs (the latents the codes quantize) for `rows`: a Float32Array of
   * N × latent_dim, computed on the CPU in this thread. `mapLayout` lays them out as a map.
   * @param {Float32Array | Uint16Array} rows float32 values, or float16 bit patterns
   * @param {{ dim?: number, batchSize?: number, signal?: AbortSignal }} [options]
   */
  async latents(rows, { dim, batchSize, signal } = {}) {
    this.#live();
    const { n, width, isF16 } = checkRows(rows, dim, this.#config.input_dim);
    const batch = checkBatchSize(batchSize, width, DEFAULT_BATCH);
    const latentDim = this.#config.latent_dim;
    let out;
    try {
      out = new Float32Array(n * latentDim);
    } catch (e) {
      throw toError(e, 'latents');
    }
    for (let start = 0; start < n; start += batch) {
      this.#beforeBatch(signal);
      const end = Math.min(n, start + batch);
      const slice = rows.subarray(start * width, end * width);
      out.set(await this.#wasm.call('latents', (inner) => inner.latentsCpu(isF16 ? f16ToF32(slice) : slice, width, start)), start * latentDim);
      if (end < n) await yieldToEventLoop();
    }
    return out;
  }

  /**
   * Decoder reconstructions of IDs (N × levels, row-major): a Float32Array of N × input_dim,
   * decoded `batchSize` rows per call into the wasm module and assembled here.
   * @param {Uint16Array | number[]} ids
   * @param {{ batchSize?: number }} [options] rows per call (default 16,384; at most 65,536)
   */
  async decode(ids, { batchSize } = {}) {
    this.#live();
    const { levels, codebook_size: size, input_dim: dim } = this.#config;
    const batch = checkBatchSize(batchSize, dim, DEFAULT_DECODE_BATCH);
    if (!(ids instanceof Uint16Array) && !Array.isArray(ids)) {
      throw new RqvaeError('ERR_INPUT', 'ids must be a Uint16Array or an array of numbers');
    }
    if (!this.#hasDecoder) {
      // The Rust side's own refusal (ERR_NO_DECODER), from a call too small to need memory.
      await this.#wasm.call('decode', (inner) => inner.decodeCpu(new Uint16Array(levels)));
      throw new RqvaeError('ERR_INTERNAL', 'decode: a model without a decoder decoded');
    }
    // Checked here for the whole array, in the Rust side's order and words, because the batches
    // would count rows from their own start (and, for an array, because Uint16Array.from would
    // wrap 65541 to 5 and decode a code nobody asked for).
    if (ids.length === 0 || ids.length % levels !== 0) {
      throw new RqvaeError('ERR_ID_RANGE', `${ids.length} IDs are not a whole number of rows of ${levels} levels`);
    }
    const bad = ids.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= size);
    if (bad >= 0) {
      throw new RqvaeError('ERR_ID_RANGE', `ID ${ids[bad]} at row ${Math.floor(bad / levels)}, level ${bad % levels} is outside the codebook (size ${size})`);
    }
    const array = ids instanceof Uint16Array ? ids : Uint16Array.from(ids);
    const n = array.length / levels;
    let out;
    try {
      out = new Float32Array(n * dim);
    } catch (e) {
      throw toError(e, 'decode');
    }
    for (let start = 0; start < n; start += batch) {
      if (this.#wasm.freed) throw new RqvaeError('ERR_FREED', 'this encoder was freed while decoding; load a new one');
      const end = Math.min(n, start + batch);
      const part = array.subarray(start * levels, end * levels);
      out.set(await this.#wasm.call('decode', (inner) => inner.decodeCpu(part)), start * dim);
      if (end < n) await yieldToEventLoop();
    }
    return out;
  }

  /** Releases the wasm memory and stops the CPU workers; later calls reject. */
  free() {
    if (!this.#wasm.freed) {
      wasmEncoders.delete(this);
      this.#wasm.free();
    }
    this.#pool?.terminate();
    this.#pool = undefined;
  }
}
