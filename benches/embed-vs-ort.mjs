// The package's CPU text embedding against ONNX Runtime Web running the same model, side by side
// in one Node.js process: the same titles, the same threads, runs alternating; prints both rates
// (median run), the ratio and how close the vectors are.
//
//   node benches/embed-vs-ort.mjs --onnx MODEL.onnx --items ITEMS.jsonl [--text-model DIR]
//        [--rows 2000] [--runs 3] [--threads 1] [--ort-from DIR]
//
// MODEL.onnx: the BERT body of the same model (benches/text_onnx_export.py). The peer tokenises
// with transformers.js (@huggingface/transformers) from the model directory's tokenizer.json
// (the same WordPiece), runs batches of 64 titles sorted by length (as sentence-transformers
// does), mean-pools and normalises in JavaScript. Both packages are resolved from --ort-from DIR
// (`npm install --ignore-scripts onnxruntime-web@1.30.0 @huggingface/transformers` there), so the
// peer stays out of this package's dependencies. The package side is SentenceEncoder on its
// default bundle (backend 'cpu', `threads` workers; 1: the calling thread).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SentenceEncoder } from '../js/node.js';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    onnx: { type: 'string' },
    items: { type: 'string' },
    'text-model': { type: 'string', default: resolve(ROOT, 'models/all-MiniLM-L6-v2') },
    rows: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    'ort-from': { type: 'string', default: process.cwd() },
  },
});
if (!args.onnx || !args.items) {
  console.error('usage: embed-vs-ort.mjs --onnx MODEL.onnx --items ITEMS.jsonl [--text-model DIR] [--rows N] [--runs N] [--threads N] [--ort-from DIR]');
  process.exit(2);
}
const runs = Number(args.runs);
const threads = Number(args.threads);
let ort;
let transformers;
/** A package's ES module entry for Node.js (the CommonJS one of onnxruntime-web cannot find its wasm). */
function esmEntry(name) {
  // Not require.resolve(`${name}/package.json`): a package's "exports" may leave it out.
  const manifest = resolve(args['ort-from'], 'node_modules', name, 'package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8'));
  // "exports" as these two packages write it: { ".": { node: { import } } } or { node: { import } }.
  const node = (exports['.'] ?? exports).node;
  const entry = node.import?.default ?? node.import;
  return pathToFileURL(resolve(dirname(manifest), entry)).href;
}
try {
  ort = await import(esmEntry('onnxruntime-web'));
  transformers = await import(esmEntry('@huggingface/transformers'));
} catch (e) {
  console.error(`onnxruntime-web and @huggingface/transformers must be installed under ${args['ort-from']}: ${e.message}`);
  process.exit(2);
}

const titles = readFileSync(args.items, 'utf8').trim().split('\n').slice(0, Number(args.rows)).map((l) => JSON.parse(l).title);
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

ort.env.wasm.numThreads = threads;
const session = await ort.InferenceSession.create(readFileSync(args.onnx), { executionProviders: ['wasm'] });
transformers.env.allowRemoteModels = false;
transformers.env.localModelPath = `${dirname(resolve(args['text-model']))}/`;
const tokenizer = await transformers.AutoTokenizer.from_pretrained(basename(resolve(args['text-model'])));
const own = await SentenceEncoder.loadDefault({ backend: 'cpu', threads });
const dim = own.dim;
const maxLen = own.config.max_seq_length;

// transformers.js's own truncation keeps the first ids and drops [SEP]; sentence-transformers keeps
// [SEP] last, so the peer cuts as it does.
const sep = tokenizer.sep_token_id;
const cut = (ids) => (ids.length > maxLen ? [...ids.slice(0, maxLen - 1), sep] : ids);

async function peerEmbed() {
  const tokens = titles.map((t) => cut(tokenizer.encode(t)));
  const order = [...tokens.keys()].sort((a, b) => tokens[a].length - tokens[b].length);
  const out = new Float32Array(titles.length * dim);
  for (let b = 0; b < order.length; b += 64) {
    const batch = order.slice(b, b + 64);
    const len = Math.max(...batch.map((i) => tokens[i].length));
    const ids = new BigInt64Array(batch.length * len);
    const mask = new BigInt64Array(batch.length * len);
    batch.forEach((i, r) => tokens[i].forEach((v, c) => { ids[r * len + c] = BigInt(v); mask[r * len + c] = 1n; }));
    const shape = [batch.length, len];
    const { last_hidden_state: h } = await session.run({
      input_ids: new ort.Tensor('int64', ids, shape),
      attention_mask: new ort.Tensor('int64', mask, shape),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), shape),
    });
    batch.forEach((i, r) => {
      const v = out.subarray(i * dim, (i + 1) * dim);
      const n = tokens[i].length;
      for (let c = 0; c < n; c++) for (let j = 0; j < dim; j++) v[j] += h.data[(r * len + c) * dim + j];
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += (v[j] / n) ** 2;
      norm = Math.sqrt(norm);
      for (let j = 0; j < dim; j++) v[j] = v[j] / n / norm;
    });
  }
  return out;
}
const ownEmbed = () => own.embed(titles);

await peerEmbed();
await ownEmbed();
const peerMs = [];
const ownMs = [];
let peer;
let mine;
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  peer = await peerEmbed();
  peerMs.push(performance.now() - t);
  t = performance.now();
  mine = await ownEmbed();
  ownMs.push(performance.now() - t);
}
let worst = 1;
for (let i = 0; i < titles.length; i++) {
  let d = 0;
  for (let j = 0; j < dim; j++) d += peer[i * dim + j] * mine[i * dim + j];
  worst = Math.min(worst, d);
}
const peerRate = titles.length / (median(peerMs) / 1000);
const ownRate = titles.length / (median(ownMs) / 1000);
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores); Node ${process.version}; `
  + `onnxruntime-web ${ort.env.versions?.web ?? 'unknown'}; ${titles.length} titles, ${runs} runs each, ${threads} thread(s) each`);
console.log(`package ${ownRate.toFixed(1)} titles/s, ONNX Runtime Web ${peerRate.toFixed(1)} titles/s: `
  + `${(ownRate / peerRate).toFixed(2)}x (median runs); smallest cosine between their vectors ${worst.toFixed(6)}`);
own.free();
