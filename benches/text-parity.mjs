// How close the package's text embedding is, on a whole catalog: SentenceEncoder's vectors (wasm
// CPU in Node.js, or in headless Chromium with --browser) against reference vectors (e.g.
// sentence-transformers', from benches/text_peer.py), and the IDs those vectors get from an RQ-VAE
// against the IDs native `rqvae-train encode --text-model` gives the same titles.
//
//   node benches/text-parity.mjs --items ITEMS.jsonl [--reference REF.npy] [--browser]
//        [--reference-tokens TOKENS.jsonl] [--threads 2] [--model www/models/minilm.safetensors]
//        [--webgpu-rows 0]
//
// REF.npy and TOKENS.jsonl come from `python3 benches/text_peer.py MODEL_DIR ITEMS 2 REF.npy
// TOKENS.jsonl`; the token ids are compared title by title (SentenceEncoder.tokenize, in Node).
//
// The text model is the package's default bundle (www/models/minilm-l6-v2.text.safetensors),
// for both sides. Prints the CPU, cosine min / mean to the reference, and the share of items
// whose IDs equal native's (near-ties aside, they do: see docs/text.md).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { Encoder, SentenceEncoder } from '../js/node.js';
import { ROOT, chromiumOptions, serveStatic, trainerBin } from '../tests/js/fixtures.mjs';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string' },
    reference: { type: 'string' },
    'reference-tokens': { type: 'string' },
    browser: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    model: { type: 'string', default: join(ROOT, 'www/models/minilm.safetensors') },
    'webgpu-rows': { type: 'string', default: '0' },
  },
});
if (!args.items) {
  console.error('usage: text-parity.mjs --items ITEMS.jsonl [--reference REF.npy] [--browser] [--threads N] [--model M] [--webgpu-rows N]');
  process.exit(2);
}
const items = resolve(args.items);
const threads = Number(args.threads);
const titles = readFileSync(items, 'utf8').trim().split('\n').map((l) => JSON.parse(l).title);
const bundle = join(ROOT, 'www/models/minilm-l6-v2.text.safetensors');

function readF32Npy(path) {
  const bytes = readFileSync(path);
  const start = bytes.indexOf(0x0a) + 1;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
}

function cosines(a, b, dim, rows) {
  let min = 1;
  let sum = 0;
  for (let i = 0; i < rows; i++) {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < dim; j++) {
      d += a[i * dim + j] * b[i * dim + j];
      na += a[i * dim + j] ** 2;
      nb += b[i * dim + j] ** 2;
    }
    const c = d / Math.sqrt(na * nb);
    min = Math.min(min, c);
    sum += c;
  }
  return { min, mean: sum / rows };
}

let vectors;
let gpuVectors;
let cpuSeconds;
const t0 = performance.now();
if (args.browser) {
  const server = await serveStatic(ROOT);
  const browser = await chromium.launch(chromiumOptions());
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/tests/js/page.html`);
    await page.waitForFunction(() => document.title === 'ready');
    // Vectors come back as base64 of their bytes: a JSON array of 6.5 million numbers would not.
    const out = await page.evaluate(async ({ texts, threads, gpuRows }) => {
      const b64 = (f32) => {
        const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const start = performance.now();
      const cpu = await window.rqvae.SentenceEncoder.loadDefault({ backend: 'cpu', threads });
      const v = b64(await cpu.embed(texts));
      const ms = performance.now() - start;
      cpu.free();
      let g = null;
      if (gpuRows > 0) {
        const gpu = await window.rqvae.SentenceEncoder.loadDefault({ backend: 'webgpu' });
        g = b64(await gpu.embed(texts.slice(0, gpuRows), { batchSize: 64 }));
        gpu.free();
      }
      return { v, g, ms };
    }, { texts: titles, threads, gpuRows: Number(args['webgpu-rows']) });
    const f32 = (b64) => {
      const bytes = Buffer.from(b64, 'base64');
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
    vectors = f32(out.v);
    cpuSeconds = out.ms / 1000;
    gpuVectors = out.g && f32(out.g);
  } finally {
    await browser.close();
    await server.close();
  }
} else {
  const text = await SentenceEncoder.load(bundle, { backend: 'cpu', threads });
  vectors = await text.embed(titles);
  text.free();
}
// The CPU path's time: in Chromium, measured in the page, without the WebGPU part.
const seconds = cpuSeconds ?? (performance.now() - t0) / 1000;
const dim = vectors.length / titles.length;
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}; ${args.browser ? 'Chromium' : `Node ${process.version}`}, ${threads} thread(s): `
  + `${titles.length} titles in ${seconds.toFixed(1)} s (${(titles.length / seconds).toFixed(1)} titles/s, model loading included)`);
if (args.reference) {
  const ref = readF32Npy(args.reference);
  const c = cosines(vectors, ref, dim, titles.length);
  console.log(`vectors vs ${args.reference}: cosine min ${c.min.toFixed(8)}, mean ${c.mean.toFixed(8)}`);
  if (gpuVectors) {
    const rows = gpuVectors.length / dim;
    const g = cosines(gpuVectors, ref, dim, rows);
    console.log(`WebGPU, first ${rows} titles: cosine min ${g.min.toFixed(8)}, mean ${g.mean.toFixed(8)}`);
  }
}

if (args['reference-tokens']) {
  const reference = readFileSync(args['reference-tokens'], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  if (reference.length !== titles.length) throw new Error(`--reference-tokens has ${reference.length} rows for ${titles.length} titles`);
  const text = await SentenceEncoder.load(bundle, { backend: 'cpu' });
  let same = 0;
  let first = null;
  for (let i = 0; i < titles.length; i++) {
    const ours = await text.tokenize(titles[i]);
    if (ours.length === reference[i].length && ours.every((t, j) => t === reference[i][j])) same += 1;
    else first ??= i;
  }
  text.free();
  console.log(`token ids equal to ${args['reference-tokens']}: ${same} of ${titles.length}`
    + (first === null ? '' : ` (first difference: row ${first + 1}, ${JSON.stringify(titles[first])})`));
}

// The IDs: these vectors through the RQ-VAE (wasm CPU) against native encode --text-model.
const dir = mkdtempSync(join(tmpdir(), 'rqvae-text-parity-'));
try {
  const out = join(dir, 'ids.npy');
  execFileSync(trainerBin(), ['encode', '--model', args.model, '--text-model', bundle, '--items', items, '--out', out], { stdio: 'pipe' });
  const bytes = readFileSync(out);
  const native = new Int32Array(bytes.buffer.slice(bytes.byteOffset + bytes.indexOf(0x0a) + 1, bytes.byteOffset + bytes.length));
  const encoder = await Encoder.load(readFileSync(args.model), { backend: 'cpu' });
  const ids = await encoder.encode(vectors);
  const levels = encoder.config.levels;
  let same = 0;
  for (let i = 0; i < titles.length; i++) {
    let eq = true;
    for (let l = 0; l < levels; l++) eq &&= ids[i * levels + l] === native[i * levels + l];
    if (eq) same += 1;
  }
  console.log(`IDs equal to native encode --text-model: ${same} of ${titles.length} (${(100 * same / titles.length).toFixed(3)} %)`);
  encoder.free();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
