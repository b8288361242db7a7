// What Encoder and SentenceEncoder share: a Rust object in a wasm instance that may trap and be
// replaced (js/wasm-loader.js), rebuilt in the fresh instance on the next call from what the
// JavaScript side keeps (the weights' bytes); the load options both take; and WebGPU set-up and
// the Auto backend choice.

import { webgpuAdapterKind, webgpuAvailable } from './adapter.js';
import { RqvaeError, toError } from './errors.js';

/** Checks `backend` and `threads`, as Encoder.load and SentenceEncoder.load take them. */
export function checkLoadOptions(backend, threads) {
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new RqvaeError('ERR_OPTION', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RqvaeError('ERR_OPTION', `threads must be an integer from 1 to 256, got ${JSON.stringify(threads)}`);
  }
}

/** Checks loadDefault's `url` option. */
export function checkUrl(url) {
  if (url !== undefined && typeof url !== 'string' && !(url instanceof URL)) {
    throw new RqvaeError('ERR_INPUT', `url must be a URL or a URL string, got ${Object.prototype.toString.call(url)}`);
  }
}

/**
 * A Rust object made by `make()` in instance `generation` of a module whose loader is `loader`
 * (`onLiveWasm`, `isLiveGeneration`, `unlessTrapped`). `freedError()` is what calls get once it
 * is freed.
 */
export class WasmObject {
  #inner;
  #generation;
  #make;
  #loader;
  #freedError;
  #freed = false;

  constructor(inner, generation, make, loader, freedError) {
    this.#inner = inner;
    this.#generation = generation;
    this.#make = make;
    this.#loader = loader;
    this.#freedError = freedError;
  }

  /** Makes the object on a running instance. */
  static async create(make, loader, freedError, what) {
    const [inner, generation] = await loader.onLiveWasm((gen) => {
      try {
        return [make(), gen];
      } catch (e) {
        throw toError(e, what);
      }
    });
    return new WasmObject(inner, generation, make, loader, freedError);
  }

  get freed() {
    return this.#freed;
  }

  /** Throws the freed error once `free` ran. */
  live() {
    if (this.#freed) throw this.#freedError();
  }

  /**
   * Runs `fn(object)` synchronously on a running instance; after a trap, first rebuilds the Rust
   * object there. A trap in `fn` rejects with ERR_WASM_TRAP.
   * @template T
   * @param {string} what the operation, for messages
   * @param {(inner: any) => T} fn
   * @returns {Promise<T>}
   */
  call(what, fn) {
    return this.#loader.onLiveWasm((gen) => {
      this.live();
      try {
        if (this.#generation !== gen) {
          // The old object belongs to a dead instance: forget it, never free it into this one.
          this.#inner?.__destroy_into_raw();
          this.#inner = undefined;
          this.#inner = this.#make();
          this.#generation = gen;
        }
        return fn(this.#inner);
      } catch (e) {
        throw toError(e, what);
      }
    });
  }

  /** `call` for a call that returns a Promise of the instance: rejects if the instance traps first. */
  async callAsync(what, fn) {
    const promise = await this.call(what, (inner) => this.#loader.unlessTrapped(fn(inner)));
    try {
      return await promise;
    } catch (e) {
      throw toError(e, what);
    }
  }

  /**
   * Frees the object in its instance, or, if that instance is dead, only forgets it: its pointer
   * means nothing in the new instance, and calling the dead one is not safe.
   */
  free() {
    if (this.#freed) return;
    this.#freed = true;
    if (this.#inner) {
      if (this.#loader.isLiveGeneration(this.#generation)) this.#inner.free();
      else this.#inner.__destroy_into_raw();
    }
    this.#inner = undefined;
  }
}

/**
 * Sets WebGPU up for `object` (whose Rust side has `hasWebGpu` and `initWebGpu`): once per Rust
 * object, so again after a trap replaced it (the fresh instance has no WebGPU state either).
 */
export async function ensureWebGpu(object) {
  object.live();
  if (await object.call('the WebGPU check', (inner) => inner.hasWebGpu())) return;
  if (!(await webgpuAvailable())) {
    throw new RqvaeError('ERR_NO_WEBGPU', 'WebGPU was requested but this browser offers no WebGPU adapter; use backend "cpu" or "auto"');
  }
  try {
    await object.callAsync('the WebGPU set-up', (inner) => inner.initWebGpu());
  } catch (e) {
    if (e instanceof RqvaeError && (e.code === 'ERR_WASM_TRAP' || e.code === 'ERR_FREED')) throw e;
    throw new RqvaeError('ERR_WEBGPU', `WebGPU initialisation failed: ${e?.message ?? e}`, { cause: e });
  }
}

/**
 * The rest of a load once the Rust object `wasm` is made: CPU workers from `startPool()` when
 * `threads` > 1 (WebGPU runs on the calling thread), the JavaScript object from `make(pool)`, and
 * WebGPU set up when it was asked for; what was made is freed when a later step fails.
 */
export async function finishLoad(wasm, { backend, threads, startPool, make }) {
  let pool;
  if (threads > 1 && backend !== 'webgpu') {
    try {
      pool = await startPool();
    } catch (e) {
      wasm.free();
      throw new RqvaeError('ERR_WORKER', `could not start ${threads} CPU workers: ${e.message}`, { cause: e });
    }
  }
  const object = make(pool);
  if (backend === 'webgpu') {
    try {
      await ensureWebGpu(wasm);
    } catch (e) {
      object.free();
      throw e;
    }
  }
  return object;
}

/**
 * The backend for a call: the one asked for, or for 'auto' WebGPU on a hardware adapter (a
 * software adapter loses to the CPU path at every size: js/adapter.js) when `worthIt`, else the CPU.
 */
export async function chooseBackend(preference, object, worthIt = true) {
  if (preference !== 'auto') return preference;
  if (worthIt && (await webgpuAdapterKind()) === 'hardware') {
    try {
      await ensureWebGpu(object);
      return 'webgpu';
    } catch {
      return 'cpu';
    }
  }
  return 'cpu';
}
