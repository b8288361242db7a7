// The package's CPU encode against ONNX Runtime Web running the same weights, side by side in
// one Node.js process: both on one thread, whole data set, runs alternating; prints both
// rates (median run), the ratio and how many rows got different IDs.
//
//   node [--experimental-wasm-relaxed-simd] benches/encode-vs-ort.mjs --onnx MODEL.onnx
//        --embeddings EMB.npy [--model MODEL.safetensors] [--runs 5] [--batch 4096]
//        [--ort-from DIR]
//
// MODEL.onnx is an ONNX export of the same weights (default: the package's default model) with
// one float32 input [rows, dim] and int64 IDs [rows, levels] as its first output.
// `onnxruntime-web` is resolved from DIR (default: the current directory), so the peer stays
// out of this package's dependencies. With the flag, Node 20 validates relaxed SIMD and the
// package loads its relaxed-SIMD module (`wasmVariant()` says which one ran).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Encoder, readNpy, wasmVariant } from '../js/node.js';

const { values: args } = parseArgs({
  options: {
    onnx: { type: 'string' },
    embeddings: { type: 'string' },
    model: { type: 'string' },
    runs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '4096' },
    'ort-from': { type: 'string', default: process.cwd() },
  },
});
if (!args.onnx || !args.embeddings) {
  console.error('usage: encode-vs-ort.mjs --onnx MODEL.onnx --embeddings EMB.npy [--model M] [--runs N] [--ort-from DIR]');
  process.exit(2);
}
const runs = Number(args.runs);
const batch = Number(args.batch);

let ort;
try {
  const require = createRequire(resolve(args['ort-from'], 'package.json'));
  ort = await import(pathToFileURL(require.resolve('onnxruntime-web')).href);
} catch (e) {
  console.error(`onnxruntime-web is not installed under ${args['ort-from']} (npm install onnxruntime-web@1.30.0 there): ${e.message}`);
  process.exit(2);
}

const { data, rows, dim } = await readNpy(readFileSync(args.embeddings));
const x = data;
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(readFileSync(args.onnx), { executionProviders: ['wasm'] });
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;
const encoder = args.model
  ? await Encoder.load(readFileSync(args.model), { backend: 'cpu', threads: 1 })
  : await Encoder.loadDefault({ backend: 'cpu', threads: 1 });
const { levels } = encoder.config;

async function peerEncode() {
  const ids = new Uint32Array(rows * levels);
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    const input = new ort.Tensor('float32', x.subarray(start * dim, (start + n) * dim), [n, dim]);
    const out = (await session.run({ [inputName]: input }))[outputName].data;
    for (let i = 0; i < n * levels; i++) ids[start * levels + i] = Number(out[i]);
  }
  return ids;
}
const ownEncode = () => encoder.encode(x, { batchSize: batch });

await peerEncode();
await ownEncode();
const peerMs = [];
const ownMs = [];
let peerIds;
let ownIds;
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  peerIds = await peerEncode();
  peerMs.push(performance.now() - t);
  t = performance.now();
  ownIds = await ownEncode();
  ownMs.push(performance.now() - t);
}
let differ = 0;
for (let i = 0; i < rows; i++) {
  for (let l = 0; l < levels; l++) {
    if (peerIds[i * levels + l] !== ownIds[i * levels + l]) {
      differ++;
      break;
    }
  }
}
const peerRate = rows / (median(peerMs) / 1000);
const ownRate = rows / (median(ownMs) / 1000);
const ortVersion = ort.env.versions?.web ?? 'unknown';
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores); Node ${process.version}; `
  + `package module: ${await wasmVariant()}; onnxruntime-web ${ortVersion}; ${rows} × ${dim}, batch ${batch}, ${runs} runs each, 1 thread each`);
console.log(`package ${Math.round(ownRate)} items/s, ONNX Runtime Web ${Math.round(peerRate)} items/s: `
  + `${(ownRate / peerRate).toFixed(2)}× (median runs); rows with different IDs: ${differ}`);
encoder.free();
