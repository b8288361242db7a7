// A wasm module of the package, compiled once per page or process and instantiated by its
// wasm-bindgen glue; CPU workers get the compiled module and instantiate their own. The package
// has two (js/wasm.js: the RQ-VAE module; js/text-wasm.js: the text module), each with a loader
// of its own from here.
//
// A trap (a WebAssembly.RuntimeError: Rust's allocation failure aborts with `unreachable`) leaves
// an instance unusable, so it is replaced: the patched glue (scripts/patch-glue.mjs) reports
// every trap, whoever made the call, and the loader then counts the instance dead (its
// `generation` ends), forgets it and instantiates the same compiled module afresh. Objects
// remember the generation they were made in: an encoder rebuilds its Rust object from its
// weights, an IdTable reports that it was lost.

import { RqvaeError, trapError } from './errors.js';
import { isLocation, sourceBytes } from './sources.js';

/**
 * A loader for one wasm module.
 * @param {() => Promise<object> | object} importGlue the module's patched wasm-bindgen glue (its
 *   namespace: `default` is init, plus `__rqvae_on_trap` and `__rqvae_reset`), or a dynamic
 *   import of it, so that a page that never uses the module never fetches its glue either
 * @param {{ name: string, initName: string, defaultSource: () => { source: string, variant: string } }} module
 *   `name`: the module's file, for messages; `initName`: the package function that loads it;
 *   `defaultSource`: where the module is and which variant that is
 */
export function wasmLoader(importGlue, { name, initName, defaultSource }) {
  /** The glue, once imported and checked. */
  let glue;
  async function loadGlue() {
    if (glue) return glue;
    const g = await importGlue();
    if (typeof g.__rqvae_on_trap !== 'function' || typeof g.__rqvae_reset !== 'function') {
      // Without the patch a trap would leave every later call failing.
      throw new Error(`rqvae: the glue of ${name} lacks its trap-recovery patch; rebuild it with \`npm run build\` (scripts/patch-glue.mjs)`);
    }
    g.__rqvae_on_trap(onTrap);
    glue = g;
    return g;
  }
  const init = (options) => glue.default(options);
  const reset = () => glue.__rqvae_reset();
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
      reset();
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
      throw new RqvaeError(isLocation(source) ? 'ERR_FETCH' : 'ERR_INPUT', `the wasm module${where} is not WebAssembly (${e.message}); it must be rqvae's ${name}`, { cause: e });
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

  /** Loads and instantiates the module once (see js/wasm.js's initWasm). */
  function initWasm({ wasm } = {}) {
    if (loading) {
      if (wasm === undefined || wasm === loading.source) return ready();
      return Promise.reject(new RqvaeError('ERR_OPTION', `${name} is already loaded (or loading) from elsewhere: call ${initName}({ wasm }) before any other call that needs it`));
    }
    const preset = wasm === undefined ? defaultSource() : undefined;
    const chosen = preset?.variant ?? 'custom';
    const loaded = Promise.all([compile(wasm ?? preset.source), loadGlue()])
      .then(([module]) => {
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
  async function onLiveWasm(fn) {
    for (;;) {
      await initWasm();
      // Another call may have trapped between the restart and this continuation.
      if (live) return fn(generation);
    }
  }

  /** The current instance's generation: an object made in another one belongs to a dead instance. */
  function wasmGeneration() {
    return generation;
  }

  /** Whether objects of generation `gen` may still be used (their instance runs). */
  function isLiveGeneration(gen) {
    return live && gen === generation;
  }

  /**
   * `promise` (from a call into the current instance), rejected with ERR_WASM_TRAP if the
   * instance traps first: a dead instance never settles its Promises.
   * @template T
   * @param {Promise<T>} promise
   * @returns {Promise<T>}
   */
  function unlessTrapped(promise) {
    return Promise.race([promise, death.promise]);
  }

  /** Which variant runs: the one `defaultSource` named, or 'custom' (loaded with `{ wasm }`). */
  async function wasmVariant() {
    await initWasm();
    return variant;
  }

  /** The compiled module, for CPU workers (which instantiate it instead of fetching it again). */
  async function compiledWasm() {
    await initWasm();
    return compiled;
  }

  /** The glue's exports (its classes and functions), once the module is loaded. */
  async function loadedGlue() {
    await initWasm();
    return glue;
  }

  return {
    initWasm, onLiveWasm, wasmGeneration, isLiveGeneration, unlessTrapped, wasmVariant, compiledWasm, loadedGlue,
  };
}
