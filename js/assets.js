// Where the package's two assets lie, next to its modules. Each is a literal
// `new URL('…', import.meta.url)`: the one form that Vite, webpack, Rollup and esbuild all
// recognise, so a bundled app gets both files emitted and these URLs rewritten to them. Apps that
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
