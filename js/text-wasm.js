// The text module (pkg/rqvae_text_bg.wasm: the sentence encoder and its tokenizer), a wasm file
// of its own so that pages that only turn vectors into IDs never download it. Loaded on first
// use, and restarted after a trap, by js/wasm-loader.js.

import { textWasmUrl } from './assets.js';
import { wasmLoader } from './wasm-loader.js';

// Its glue too is imported only when text is first used (a literal path, so bundlers split it).
const loader = wasmLoader(
  () => import('../pkg/rqvae_text.js'),
  {
    name: 'pkg/rqvae_text_bg.wasm',
    initName: 'initTextWasm',
    defaultSource: () => ({ source: textWasmUrl, variant: 'simd128' }),
  },
);

/**
 * Loads the text module once (SentenceEncoder calls it). Call it first with `{ wasm }` to load
 * the module from elsewhere than next to this package's files.
 * @param {{ wasm?: URL | string | Response | BufferSource | WebAssembly.Module }} [options]
 * @returns {Promise<void>}
 */
export function initTextWasm(options) {
  return loader.initWasm(options);
}

export const {
  onLiveWasm: onLiveTextWasm,
  isLiveGeneration: isLiveTextGeneration,
  unlessTrapped: unlessTextTrapped,
  compiledWasm: compiledTextWasm,
  loadedGlue: textGlue,
} = loader;
