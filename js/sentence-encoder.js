// SentenceEncoder: texts in, sentence vectors out (a BERT sentence encoder such as
// all-MiniLM-L6-v2, in the text module), so that titles become the vectors an Encoder turns
// into semantic IDs. It batches texts, reports progress, honours an AbortSignal, chooses the
// backend (the CPU's SIMD128 path, on worker threads if asked, or WebGPU) and turns every
// failure into a rejected Promise with an RqvaeError.
//
// As with Encoder, its Rust object lives in one instance of the text module; if that instance
// traps, the package starts a fresh one and the encoder rebuilds its object there from the bundle
// it keeps, on its next call.

import { defaultTextModelUrl } from './assets.js';
import { CpuPool } from './cpu-pool.js';
import { RqvaeError } from './errors.js';
import { showBytes } from './limits.js';
import { isLocation, sourceBytes } from './sources.js';
import {
  compiledTextWasm, initTextWasm, isLiveTextGeneration, onLiveTextWasm, textGlue, unlessTextTrapped,
} from './text-wasm.js';
import {
  WasmObject, checkLoadOptions, checkUrl, chooseBackend, ensureWebGpu, finishLoad,
} from './wasm-object.js';

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

/** The text module's loader, as WasmObject uses it. */
const LOADER = { onLiveWasm: onLiveTextWasm, isLiveGeneration: isLiveTextGeneration, unlessTrapped: unlessTextTrapped };

export class SentenceEncoder {
  /** The WasmTextEncoder (a WasmObject: rebuilt from the bundle's bytes after a trap). */
  #wasm;
  #pool;
  #preference;
  #backend;
  #config;
  #dim;
  #source;

  constructor(wasm, facts, preference, pool) {
    this.#wasm = wasm;
    this.#preference = preference;
    this.#pool = pool;
    this.#backend = preference === 'webgpu' ? 'webgpu' : 'cpu';
    [this.#config, this.#dim, this.#source] = facts;
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
    checkUrl(url);
    return SentenceEncoder.#load(url ?? defaultTextModelUrl, 'the default text model', options);
  }

  static async #load(source, what, { backend = 'auto', threads = 1 } = {}) {
    checkLoadOptions(backend, threads);
    const [, fetched] = await Promise.all([initTextWasm(), sourceBytes(source, what)]);
    if (fetched.length > MAX_BUNDLE_BYTES) {
      throw new RqvaeError('ERR_TOO_LARGE', `${what}: ${showBytes(fetched.length)}, more than the ${showBytes(MAX_BUNDLE_BYTES)} a text model bundle may take`);
    }
    const bytes = isLocation(source) ? fetched : fetched.slice();
    const name = typeof source === 'string' ? source.split(/[\\/]/).pop() : source instanceof URL ? source.pathname.split('/').pop() : what;
    const { WasmTextEncoder } = await textGlue();
    const wasm = await WasmObject.create(() => WasmTextEncoder.fromBundle(bytes, name), LOADER, freedError, `loading ${what}`);
    const facts = await wasm.call('reading the model', (inner) => [JSON.parse(inner.configJson()), inner.dim, inner.source]);
    return finishLoad(wasm, {
      backend,
      threads,
      startPool: async () => CpuPool.start(threads, await compiledTextWasm(), bytes, { text: true, name }),
      make: (pool) => new SentenceEncoder(wasm, facts, backend, pool),
    });
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
    this.#wasm.live();
    if (typeof text !== 'string') throw new RqvaeError('ERR_INPUT', `text must be a string, got ${typeof text}`);
    return this.#wasm.call('tokenize', (inner) => inner.tokenize(text));
  }

  #beforeBatch(signal) {
    signal?.throwIfAborted();
    if (this.#wasm.freed) throw new RqvaeError('ERR_FREED', 'this sentence encoder was freed while embedding; load a new one');
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
    this.#wasm.live();
    checkTexts(texts);
    checkBatch(batchSize, DEFAULT_BATCH);
    const backend = await chooseBackend(this.#preference, this.#wasm);
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
          await ensureWebGpu(this.#wasm);
          vectors = await this.#wasm.callAsync('embed (WebGPU)', (inner) => inner.embedWebGpu(part, start));
        } else {
          vectors = await this.#wasm.call('embed', (inner) => inner.embedCpu(part, start));
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
    this.#wasm.free();
    this.#pool?.terminate();
    this.#pool = undefined;
  }
}
