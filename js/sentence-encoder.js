// SentenceEncoder: texts in, sentence vectors out (a BERT sentence encoder such as
// all-MiniLM-L6-v2, in the text module), so that titles become the vectors an Encoder turns
// into semantic IDs. It batches texts, reports progress, honours an AbortSignal, chooses the
// backend (the CPU's SIMD128 path, on worker threads if asked, or WebGPU) and turns every
// failure into a rejected Promise with an RqvaeError.
//
// As with Encoder, its Rust object lives in one instance of the text module; if that instance
// traps, the package starts a fresh one and the encoder rebuilds its object there from the bundle
// it keeps, on its next call.

import { WasmTextEncoder } from '../pkg/rqvae_text.js';
import { webgpuAdapterKind, webgpuAvailable } from './adapter.js';
import { defaultTextModelUrl } from './assets.js';
import { CpuPool } from './cpu-pool.js';
import { RqvaeError, toError } from './errors.js';
import { showBytes } from './limits.js';
import { isLocation, sourceBytes } from './sources.js';
import {
  compiledTextWasm, initTextWasm, isLiveTextGeneration, onLiveTextWasm, unlessTextTrapped,
} from './text-wasm.js';

/** Texts per call into the module: a few hundred titles, so progress and cancel stay prompt. */
const DEFAULT_BATCH = 256;
/** Texts per WebGPU call: larger batches amortise the upload and read-back. */
const DEFAULT_WEBGPU_BATCH = 1024;
const MAX_BATCH = 65_536;
/** A text model bundle larger than this is not one (MiniLM-L6 is 46 MB; BERT-base 220 MB). */
const MAX_BUNDLE_BYTES = 1 << 30;

const freedError = () => new RqvaeError('ERR_FREED', 'this sentence encoder has been freed; load a new one');
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

function checkTexts(texts) {
  if (!Array.isArray(texts)) {
    throw new RqvaeError('ERR_INPUT', `texts must be an array of strings, got ${Object.prototype.toString.call(texts)}`);
  }
  if (texts.length === 0) throw new RqvaeError('ERR_INPUT', 'no texts to embed: the array is empty');
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) {
    throw new RqvaeError('ERR_INPUT', `texts[${bad}] is ${typeof texts[bad]} ${JSON.stringify(texts[bad]) ?? ''}, not a string`);
  }
}

function checkBatch(batchSize, fallback) {
  if (batchSize === undefined) return fallback;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new RqvaeError('ERR_OPTION', `batchSize must be an integer from 1 to ${MAX_BATCH.toLocaleString('en-US')}, got ${JSON.stringify(batchSize)}`);
  }
  return batchSize;
}

export class SentenceEncoder {
  /** The WasmTextEncoder, made in instance #generation (undefined once freed). */
  #inner;
  #generation;
  /** The bundle's bytes (our own copy), to rebuild #inner after a trap and to start workers. */
  #bundle;
  #name;
  #freed = false;
  #pool;
  #preference;
  #backend;
  #config;
  #dim;
  #source;

  constructor(inner, generation, bundle, name, preference, pool) {
    this.#inner = inner;
    this.#generation = generation;
    this.#bundle = bundle;
    this.#name = name;
    this.#preference = preference;
    this.#pool = pool;
    this.#backend = preference === 'webgpu' ? 'webgpu' : 'cpu';
    this.#config = JSON.parse(inner.configJson());
    this.#dim = inner.dim;
    this.#source = inner.source;
  }

  /**
   * Loads a text model bundle (`rqvae-train export --text-model DIR --out FILE`): its bytes, a
   * fetch Response, or where to fetch it (a URL or URL string; in Node.js also a file: URL or a
   * path).
   * @param {Uint8Array | ArrayBuffer | Response | URL | string} bundle
   * @param {{ backend?: 'auto' | 'webgpu' | 'cpu', threads?: number }} [options] `threads` > 1
   *   embeds on that many workers (each with its own instance and copy of the model)
   */
  static async load(bundle, options) {
    return SentenceEncoder.#load(bundle, 'the text model', options);
  }

  /**
   * Loads the default text model shipped with the package (all-MiniLM-L6-v2, 384-d), from next
   * to its modules, or from `url` where the app serves its own copy.
   * @param {{ url?: URL | string, backend?: 'auto' | 'webgpu' | 'cpu', threads?: number }} [options]
   */
  static async loadDefault({ url, ...options } = {}) {
    if (url !== undefined && typeof url !== 'string' && !(url instanceof URL)) {
      throw new RqvaeError('ERR_INPUT', `url must be a URL or a URL string, got ${Object.prototype.toString.call(url)}`);
    }
    return SentenceEncoder.#load(url ?? defaultTextModelUrl, 'the default text model', options);
  }

  static async #load(source, what, { backend = 'auto', threads = 1 } = {}) {
    if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
      throw new RqvaeError('ERR_OPTION', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
    }
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new RqvaeError('ERR_OPTION', `threads must be an integer from 1 to 256, got ${JSON.stringify(threads)}`);
    }
    const [, fetched] = await Promise.all([initTextWasm(), sourceBytes(source, what)]);
    if (fetched.length > MAX_BUNDLE_BYTES) {
      throw new RqvaeError('ERR_TOO_LARGE', `${what}: ${showBytes(fetched.length)}, more than the ${showBytes(MAX_BUNDLE_BYTES)} a text model bundle may take`);
    }
    const bytes = isLocation(source) ? fetched : fetched.slice();
    const name = typeof source === 'string' ? source.split(/[\\/]/).pop() : source instanceof URL ? source.pathname.split('/').pop() : what;
    const [inner, generation] = await onLiveTextWasm((gen) => {
      try {
        return [WasmTextEncoder.fromBundle(bytes, name), gen];
      } catch (e) {
        throw toError(e, `loading ${what}`);
      }
    });
    let pool;
    if (threads > 1 && backend !== 'webgpu') {
      try {
        pool = await CpuPool.start(threads, await compiledTextWasm(), bytes, { text: true, name });
      } catch (e) {
        SentenceEncoder.#release(inner, generation);
        throw new RqvaeError('ERR_WORKER', `could not start ${threads} CPU workers: ${e.message}`, { cause: e });
      }
    }
    const encoder = new SentenceEncoder(inner, generation, bytes, name, backend, pool);
    if (backend === 'webgpu') {
      try {
        await encoder.#ensureWebGpu();
      } catch (e) {
        encoder.free();
        throw e;
      }
    }
    return encoder;
  }

  static #release(inner, generation) {
    if (isLiveTextGeneration(generation)) inner.free();
    else inner.__destroy_into_raw();
  }

  /** Runs `fn(inner)` on a running instance, rebuilding the Rust object after a trap. */
  #call(what, fn) {
    return onLiveTextWasm((gen) => {
      if (this.#freed) throw freedError();
      try {
        if (this.#generation !== gen) {
          this.#inner?.__destroy_into_raw();
          this.#inner = undefined;
          this.#inner = WasmTextEncoder.fromBundle(this.#bundle, this.#name);
          this.#generation = gen;
        }
        return fn(this.#inner);
      } catch (e) {
        throw toError(e, what);
      }
    });
  }

  async #callAsync(what, fn) {
    const promise = await this.#call(what, (inner) => unlessTextTrapped(fn(inner)));
    try {
      return await promise;
    } catch (e) {
      throw toError(e, what);
    }
  }

  /** The width of the sentence vectors (384 for the default model). */
  get dim() {
    return this.#dim;
  }

  /** `{ bert: { hidden_size, num_hidden_layers, … }, pooling, normalize, max_seq_length }`. */
  get config() {
    return structuredClone(this.#config);
  }

  /** Where the model's weights came from, as its bundle says. */
  get source() {
    return this.#source;
  }

  /** Workers the CPU backend embeds on (1: the calling thread). */
  get threads() {
    return this.#pool?.size ?? 1;
  }

  /** 'cpu' or 'webgpu': the backend of the last embed (before any, the one requested). */
  get backend() {
    return this.#backend;
  }

  /**
   * Token ids of `text`: `[CLS]`, the WordPiece tokens, `[SEP]`, truncated at the model's
   * maximum length, as Hugging Face's tokenizers gives them.
   * @param {string} text
   * @returns {Promise<Uint32Array>}
   */
  async tokenize(text) {
    if (this.#freed) throw freedError();
    if (typeof text !== 'string') throw new RqvaeError('ERR_INPUT', `text must be a string, got ${typeof text}`);
    return this.#call('tokenize', (inner) => inner.tokenize(text));
  }

  async #ensureWebGpu() {
    if (this.#freed) throw freedError();
    if (await this.#call('the WebGPU check', (inner) => inner.hasWebGpu())) return;
    if (!(await webgpuAvailable())) {
      throw new RqvaeError('ERR_NO_WEBGPU', 'WebGPU was requested but this browser offers no WebGPU adapter; use backend "cpu" or "auto"');
    }
    try {
      await this.#callAsync('the WebGPU set-up', (inner) => inner.initWebGpu());
    } catch (e) {
      if (e instanceof RqvaeError && (e.code === 'ERR_WASM_TRAP' || e.code === 'ERR_FREED')) throw e;
      throw new RqvaeError('ERR_WEBGPU', `WebGPU initialisation failed: ${e?.message ?? e}`, { cause: e });
    }
  }

  async #chooseBackend() {
    if (this.#preference !== 'auto') return this.#preference;
    // A software adapter (SwiftShader) loses to the CPU path at every size.
    if ((await webgpuAdapterKind()) === 'hardware') {
      try {
        await this.#ensureWebGpu();
        return 'webgpu';
      } catch {
        return 'cpu';
      }
    }
    return 'cpu';
  }

  #beforeBatch(signal) {
    signal?.throwIfAborted();
    if (this.#freed) throw new RqvaeError('ERR_FREED', 'this sentence encoder was freed while embedding; load a new one');
  }

  /**
   * Sentence vectors of `texts`: a Float32Array of `texts.length × dim` values, row i for
   * `texts[i]`, as sentence-transformers computes them (unit length for models that normalise).
   * Every string is embedded, the empty one too (as `[CLS] [SEP]`).
   * @param {string[]} texts
   * @param {{ batchSize?: number, onProgress?: (p: { done: number, total: number }) => void, signal?: AbortSignal }} [options]
   * @returns {Promise<Float32Array>}
   */
  async embed(texts, { batchSize, onProgress, signal } = {}) {
    if (this.#freed) throw freedError();
    checkTexts(texts);
    checkBatch(batchSize, DEFAULT_BATCH);
    const backend = await this.#chooseBackend();
    const batch = checkBatch(batchSize, backend === 'webgpu' ? DEFAULT_WEBGPU_BATCH : DEFAULT_BATCH);
    const n = texts.length;
    const dim = this.#dim;
    const out = new Float32Array(n * dim);
    if (backend === 'cpu' && this.#pool) {
      await this.#pool.embed(texts, { dim, batchSize: batch, out, onProgress, signal });
    } else {
      for (let start = 0; start < n; start += batch) {
        this.#beforeBatch(signal);
        const end = Math.min(n, start + batch);
        const part = texts.slice(start, end);
        let vectors;
        if (backend === 'webgpu') {
          // Again per batch: a trap elsewhere may have replaced the Rust object since the last one.
          await this.#ensureWebGpu();
          vectors = await this.#callAsync('embed (WebGPU)', (inner) => inner.embedWebGpu(part, start));
        } else {
          vectors = await this.#call('embed', (inner) => inner.embedCpu(part, start));
        }
        out.set(vectors, start * dim);
        onProgress?.({ done: end, total: n });
        if (end < n) await yieldToEventLoop();
      }
    }
    this.#backend = backend;
    return out;
  }

  /** Releases the wasm memory and stops the workers; later calls reject. */
  free() {
    if (!this.#freed) {
      this.#freed = true;
      if (this.#inner) SentenceEncoder.#release(this.#inner, this.#generation);
      this.#inner = undefined;
    }
    this.#pool?.terminate();
    this.#pool = undefined;
  }
}
