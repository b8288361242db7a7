// The RQ-VAE wasm module (pkg/rqvae_bg.wasm, or pkg/rqvae_relaxed_bg.wasm where the engine
// validates relaxed SIMD), loaded and restarted after a trap by js/wasm-loader.js.

import * as glue from '../pkg/rqvae.js';
import { relaxedWasmUrl, wasmUrl } from './assets.js';
import { wasmLoader } from './wasm-loader.js';
import { relaxedSimdSupported } from './wasm-features.js';

// Imported statically: the package's other modules use its classes directly.
const loader = wasmLoader(
  () => glue,
  {
    name: 'pkg/rqvae_bg.wasm',
    initName: 'initWasm',
    defaultSource: () => (relaxedSimdSupported()
      ? { source: relaxedWasmUrl, variant: 'relaxed-simd' }
      : { source: wasmUrl, variant: 'simd128' }),
  },
);

/**
 * Loads and instantiates the wasm module once; every API call awaits it. Call it first with
 * `{ wasm }` to load the module from elsewhere than next to this package's files. After a trap
 * it resolves once the fresh instance runs.
 * @param {{ wasm?: URL | string | Response | BufferSource | WebAssembly.Module }} [options]
 * @returns {Promise<void>}
 */
export function initWasm(options) {
  return loader.initWasm(options);
}

/**
 * Which wasm module runs: 'relaxed-simd' (the CPU encode on fused multiply-adds; engines with
 * relaxed SIMD), 'simd128' (every other engine), or 'custom' (loaded by initWasm({ wasm })).
 * The IDs are the same with either.
 * @returns {Promise<'relaxed-simd' | 'simd128' | 'custom'>}
 */
export function wasmVariant() {
  return loader.wasmVariant();
}

export const {
  onLiveWasm, wasmGeneration, isLiveGeneration, unlessTrapped, compiledWasm,
} = loader;
