// The wasm module: compiled once per page or process and instantiated by pkg/rqvae.js; CPU
// workers get the compiled module and instantiate their own.

import init from '../pkg/rqvae.js';
import { wasmUrl } from './assets.js';
import { RqvaeError } from './errors.js';
import { isLocation, sourceBytes } from './sources.js';

/** The load in progress or done: `{ source, ready }` (`source` undefined for the default). */
let loading;
let compiled;

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  const bytes = await sourceBytes(source, 'the wasm module');
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    // A location that answers with something else (a host's HTML page for a missing file) is a
    // fetch problem; bytes that are not wasm are the caller's.
    const from = typeof source === 'string' || source instanceof URL ? source : source?.url;
    const where = from ? ` from ${from}` : '';
    throw new RqvaeError(isLocation(source) ? 'ERR_FETCH' : 'ERR_INPUT', `the wasm module${where} is not WebAssembly (${e.message}); it must be rqvae's pkg/rqvae_bg.wasm`, { cause: e });
  }
}

/**
 * Loads and instantiates the wasm module once; every API call awaits it. Call it first with
 * `{ wasm }` to load the module from elsewhere than next to this package's files.
 * @param {{ wasm?: URL | string | Response | BufferSource | WebAssembly.Module }} [options]
 * @returns {Promise<void>}
 */
export function initWasm({ wasm } = {}) {
  if (loading) {
    if (wasm === undefined || wasm === loading.source) return loading.ready;
    return Promise.reject(new RqvaeError('ERR_OPTION', 'the wasm module is already loaded (or loading) from elsewhere: call initWasm({ wasm }) before any other rqvae call'));
  }
  const ready = compile(wasm ?? wasmUrl)
    .then((module) => {
      compiled = module;
      return init({ module_or_path: module });
    })
    // The module's raw exports are internal: callers only wait for it.
    .then(() => undefined);
  loading = { source: wasm, ready };
  // A failed load (a 404, a bad override) may be retried, from the same place or another.
  ready.catch(() => {
    if (loading?.ready === ready) loading = undefined;
  });
  return ready;
}

/** The compiled module, for CPU workers (which instantiate it instead of fetching it again). */
export async function compiledWasm() {
  await initWasm();
  return compiled;
}
