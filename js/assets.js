// Where the package's assets lie, next to its modules. Each is a literal
// `new URL('…', import.meta.url)`: the one form that Vite, webpack, Rollup and esbuild all
// recognise, so a bundled app gets each file emitted and these URLs rewritten to it. Apps that
// copy the assets themselves pass their own location instead (initWasm({ wasm }),
// Encoder.loadDefault({ url })).

/** The wasm module (pkg/rqvae_bg.wasm), loaded by initWasm unless it is given another. */
export const wasmUrl = new URL('../pkg/rqvae_bg.wasm', import.meta.url).href;

/**
 * The same module built with relaxed SIMD (pkg/rqvae_relaxed_bg.wasm: fused multiply-adds in the
 * CPU encode), loaded instead where the engine validates relaxed SIMD.
 */
export const relaxedWasmUrl = new URL('../pkg/rqvae_relaxed_bg.wasm', import.meta.url).href;

/** The default model (www/models/default.safetensors), loaded by Encoder.loadDefault. */
export const defaultModelUrl = new URL('../www/models/default.safetensors', import.meta.url).href;

/**
 * The shipped RQ-VAE for all-MiniLM-L6-v2's 384-d vectors (the default text model's), loaded by
 * Encoder.loadDefault({ model: 'minilm' }).
 */
export const miniLmModelUrl = new URL('../www/models/minilm.safetensors', import.meta.url).href;

/** The text module (pkg/rqvae_text_bg.wasm): the sentence encoder, loaded only when text is used. */
export const textWasmUrl = new URL('../pkg/rqvae_text_bg.wasm', import.meta.url).href;

/**
 * The default text model, all-MiniLM-L6-v2 as one bundle (F16 weights, config, vocabulary),
 * loaded by SentenceEncoder.loadDefault.
 */
export const defaultTextModelUrl = new URL('../www/models/minilm-l6-v2.text.safetensors', import.meta.url).href;
