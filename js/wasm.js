// The wasm module: compiled once per page or process and instantiated by pkg/rqvae.js; CPU
// workers get the compiled module and instantiate their own.
//
// A trap (a WebAssembly.RuntimeError: Rust's allocation failure aborts with `unreachable`) leaves
// an instance unusable, so it is replaced: the patched glue (scripts/patch-glue.mjs) reports
// every trap, whoever made the call, and this module then counts the instance dead (its
// `generation` ends), forgets it and instantiates the same compiled module afresh. Objects
// remember the generation they were made in: an Encoder rebuilds its Rust object from its
// weights, an IdTable reports that it was lost.

import init, { __rqvae_on_trap, __rqvae_reset } from '../pkg/rqvae.js';
import { relaxedWasmUrl, wasmUrl } from './assets.js';
import { RqvaeError, trapError } from './errors.js';
import { isLocation, sourceBytes } from './sources.js';
import { relaxedSimdSupported } from './wasm-features.js';

/** The load in progress or done: `{ source, ready }` (`source` undefined for the default). */
let loading;
/** Which module is loaded: 'relaxed-simd', 'simd128' or 'custom' (initWasm({ wasm })). */
let variant;
let compiled;
/** The current instance's number; it changes the moment an instance traps. */
let generation = 0;
/** Whether the current generation's instance is loaded and running. */
let live = false;
/** The restart in progress (or failed, to be tried again), if any. */
let restarting;
/** Rejected when the current instance traps, for calls waiting on one of its Promises. */
let death = newDeath();

function newDeath() {
  let reject;
  const promise = new Promise((_, r) => {
    reject = r;
  });
  // Only calls racing it observe it.
  promise.catch(() => {});
  return { promise, reject };
}

/** Starts a fresh instance once the failing call has unwound (its glue still frees its arguments). */
function restart() {
  const previous = restarting ?? Promise.resolve();
  const run = previous.catch(() => {}).then(async () => {
    __rqvae_reset();
    await init({ module_or_path: compiled });
    live = true;
  });
  restarting = run;
  run.then(
    () => {
      if (restarting === run) restarting = undefined;
    },
    // Kept: the next call tries again (see ready()).
    () => {},
  );
  return run;
}

function onTrap(error) {
  if (!live) return;
  live = false;
  generation += 1;
  const dead = death;
  death = newDeath();
  dead.reject(trapError(error));
  restart();
}

if (typeof __rqvae_on_trap !== 'function' || typeof __rqvae_reset !== 'function') {
  // Without the patch a trap would leave every later call failing.
  throw new Error('rqvae: pkg/rqvae.js lacks its trap-recovery patch; rebuild it with `npm run build` (scripts/patch-glue.mjs)');
}
__rqvae_on_trap(onTrap);

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

/** Resolves once an instance is running: the first load, or the restart after a trap. */
async function ready() {
  await loading.ready;
  while (!live) {
    try {
      await (restarting ?? restart());
    } catch (e) {
      restarting = undefined;
      throw new RqvaeError('ERR_INTERNAL', `the wasm module trapped and could not be started again: ${e?.message ?? e}`, { cause: e });
    }
  }
}

/**
 * Loads and instantiates the wasm module once; every API call awaits it. Call it first with
 * `{ wasm }` to load the module from elsewhere than next to this package's files. After a trap
 * it resolves once the fresh instance runs.
 * @param {{ wasm?: URL | string | Response | BufferSource | WebAssembly.Module }} [options]
 * @returns {Promise<void>}
 */
export function initWasm({ wasm } = {}) {
  if (loading) {
    if (wasm === undefined || wasm === loading.source) return ready();
    return Promise.reject(new RqvaeError('ERR_OPTION', 'the wasm module is already loaded (or loading) from elsewhere: call initWasm({ wasm }) before any other rqvae call'));
  }
  const chosen = wasm === undefined ? (relaxedSimdSupported() ? 'relaxed-simd' : 'simd128') : 'custom';
  const loaded = compile(wasm ?? (chosen === 'relaxed-simd' ? relaxedWasmUrl : wasmUrl))
    .then((module) => {
      compiled = module;
      return init({ module_or_path: module });
    })
    .then(() => {
      variant = chosen;
      live = true;
    });
  loading = { source: wasm, ready: loaded };
  // A failed load (a 404, a bad override) may be retried, from the same place or another.
  loaded.catch(() => {
    if (loading?.ready === loaded) loading = undefined;
  });
  return ready();
}

/**
 * Runs `fn(generation)` on a running instance, restarting one that trapped first. `fn` runs
 * synchronously right after the check, so nothing can kill the instance in between; its own
 * trap (a WebAssembly.RuntimeError) propagates as it is.
 * @template T
 * @param {(generation: number) => T} fn
 * @returns {Promise<T>}
 */
export async function onLiveWasm(fn) {
  for (;;) {
    await initWasm();
    // Another call may have trapped between the restart and this continuation.
    if (live) return fn(generation);
  }
}

/** The current instance's generation: an object made in another one belongs to a dead instance. */
export function wasmGeneration() {
  return generation;
}

/** Whether objects of generation `gen` may still be used (their instance runs). */
export function isLiveGeneration(gen) {
  return live && gen === generation;
}

/**
 * `promise` (from a call into the current instance), rejected with ERR_WASM_TRAP if the
 * instance traps first: a dead instance never settles its Promises.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
export function unlessTrapped(promise) {
  return Promise.race([promise, death.promise]);
}

/**
 * Which wasm module runs: 'relaxed-simd' (the CPU encode on fused multiply-adds; engines with
 * relaxed SIMD), 'simd128' (every other engine), or 'custom' (loaded by initWasm({ wasm })).
 * The IDs are the same with either.
 * @returns {Promise<'relaxed-simd' | 'simd128' | 'custom'>}
 */
export async function wasmVariant() {
  await initWasm();
  return variant;
}

/** The compiled module, for CPU workers (which instantiate it instead of fetching it again). */
export async function compiledWasm() {
  await initWasm();
  return compiled;
}
