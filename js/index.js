// rqvae: semantic IDs in the browser and in Node.js.
//
// The package's browser entry and the list of its exports. package.json's `exports` gives it to
// everything but Node.js (bundlers targeting the web, a page importing it by path). Its whole
// import graph, workers included, is relative imports only, with no `node:` module and no bare
// specifier, so it runs from a static host without an import map or a bundler. Node.js gets
// js/node.js: these same exports, with Node's way of reading files and starting workers.

export { Encoder } from './encoder.js';
export { SentenceEncoder } from './sentence-encoder.js';
export { initTextWasm } from './text-wasm.js';
export { initWasm, wasmVariant } from './wasm.js';
export { readNpy } from './npy.js';
export { defaultModelUrl, defaultTextModelUrl, miniLmModelUrl } from './assets.js';
export { IdTable } from './id-table.js';
export { CpuWorkerError } from './cpu-pool.js';
export { RqvaeError } from './errors.js';
export { AUTO_WEBGPU_MIN_ROWS, webgpuAdapterKind, webgpuAvailable } from './adapter.js';
export { encodeStream, readEmbeddings, readItems, readTitles } from './stream.js';
export { codeUsage } from './code-usage.js';
export { prefixLabels } from './labels.js';
export { mapLayout } from './map.js';
