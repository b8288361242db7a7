// The package in headless Chromium: CPU (wasm) and WebGPU (burn-wgpu on SwiftShader) IDs equal
// the native ones, bad input rejects without breaking the page, and nothing leaves the origin.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import {
  ROOT, SAMPLE_NPY, centredModel, chromiumOptions, itemIds, nativeAssign, nativeIds, nativeNearTieIds, nearTieModel, serveStatic,
  textReference,
} from './fixtures.mjs';

let server;
let browser;
let page;
let native;
let centred;
const foreign = [];

before(async () => {
  native = nativeIds();
  centred = centredModel();
  server = await serveStatic(ROOT, {
    '/data/sample.npy': SAMPLE_NPY,
    '/data/centred.safetensors': centred.model,
    '/data/shifted.npy': centred.npy,
  });
  browser = await chromium.launch(chromiumOptions());
  page = await browser.newPage();
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) foreign.push(r.url());
  });
  await page.goto(`${server.url}/tests/js/page.html`);
  await page.waitForFunction(() => document.title === 'ready');
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The first index where `a` and `b` differ, -1 if none; past the shorter one's end counts. */
function firstMismatch(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

test('CPU backend in Chromium equals native on all 2,000 rows', async () => {
  const { ids, backend } = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'cpu' });
    const ids = await encoder.encode(data);
    const backend = encoder.backend;
    encoder.free();
    return { ids: Array.from(ids), backend };
  });
  assert.equal(backend, 'cpu');
  assert.equal(ids.length, native.length);
  assert.equal(firstMismatch(ids, native), -1);
});

test('CPU backend on 2 Web Workers in Chromium equals native on all 2,000 rows', async () => {
  const { ids, threads } = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'cpu', threads: 2 });
    const ids = await encoder.encode(data, { batchSize: 256 });
    const threads = encoder.threads;
    encoder.free();
    return { ids: Array.from(ids), threads };
  });
  assert.equal(threads, 2);
  assert.equal(firstMismatch(ids, native), -1);
});

test('a Web Worker that dies mid-call: the call rejects, the worker is replaced, the next call equals native', { timeout: 60_000 }, async () => {
  const result = await page.evaluate(async () => {
    const { CpuPool } = await import('/js/cpu-pool.js');
    const { CRASH_THROW } = await import('/tests/js/crashing-cpu-worker.mjs');
    const module = await WebAssembly.compile(await (await fetch('/pkg/rqvae_bg.wasm')).arrayBuffer());
    const weights = new Uint8Array(await (await fetch('/www/models/default.safetensors')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer()));
    const rows = data.slice(0, 600 * 768);
    const pool = await CpuPool.start(2, module, weights, { workerUrl: '/tests/js/crashing-cpu-worker.mjs' });
    const encode = async (x) => {
      const out = new Uint16Array((x.length / 768) * 3);
      await pool.encode(x, { width: 768, isF16: false, batchSize: 100, levels: 3, out });
      return Array.from(out);
    };
    const poisoned = Float32Array.from(rows);
    poisoned[300 * 768] = CRASH_THROW;
    let error;
    try {
      await encode(poisoned);
    } catch (e) {
      error = `${e.name}: ${e.message}`;
    }
    const ids = await encode(rows);
    const rowsPerWorker = pool.rowsPerWorker;
    pool.terminate();
    return { error, ids, rowsPerWorker };
  });
  assert.match(result.error ?? 'resolved', /^CpuWorkerError: a CPU worker died during the call \(.*test crash on the batch at row 300/);
  assert.equal(firstMismatch(result.ids, native.slice(0, 600 * 3)), -1);
  assert.equal(result.ids.length, 600 * 3);
  assert.ok(result.rowsPerWorker.every((r) => r > 0), `both workers work after the replacement: ${result.rowsPerWorker}`);
});

test('WebGPU backend in Chromium equals native on 100 rows, batches queued two at a time', async () => {
  const result = await page.evaluate(async () => {
    if (!(await window.rqvae.webgpuAvailable())) return { unavailable: true };
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'webgpu' });
    // Counts the WebGPU calls under way at once, at the wasm boundary the package calls through.
    const { WasmEncoder } = await import('/pkg/rqvae.js');
    const original = WasmEncoder.prototype.encodeWebGpu;
    let pending = 0;
    let mostPending = 0;
    WasmEncoder.prototype.encodeWebGpu = function (...args) {
      pending += 1;
      mostPending = Math.max(mostPending, pending);
      return original.apply(this, args).finally(() => { pending -= 1; });
    };
    const progress = [];
    let ids;
    try {
      // 7 batches, the last one short: queued batches must still land at their own rows.
      ids = await encoder.encode(data.subarray(0, 100 * 768), {
        batchSize: 16,
        onProgress: ({ done, total }) => progress.push(`${done}/${total}`),
      });
    } finally {
      WasmEncoder.prototype.encodeWebGpu = original;
    }
    const backend = encoder.backend;
    encoder.free();
    return { ids: Array.from(ids), backend, progress, mostPending };
  });
  assert.ok(!result.unavailable, 'Chromium with --enable-unsafe-webgpu must offer an adapter');
  assert.equal(result.backend, 'webgpu');
  assert.equal(firstMismatch(result.ids, native.slice(0, 300)), -1);
  assert.deepEqual(result.progress, ['16/100', '32/100', '48/100', '64/100', '80/100', '96/100', '100/100']);
  assert.equal(result.mostPending, 2, 'two WebGPU batches are under way at once, never more');
});

test('WebGPU in Chromium: an abort with batches queued rejects with its reason, and the encoder goes on', async () => {
  const result = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'webgpu' });
    const rows = data.subarray(0, 64 * 768);
    const controller = new AbortController();
    const unhandled = [];
    const onUnhandled = (e) => unhandled.push(String(e.reason));
    window.addEventListener('unhandledrejection', onUnhandled);
    let error;
    try {
      await encoder.encode(rows, {
        batchSize: 8,
        onProgress: ({ done }) => { if (done === 16) controller.abort(new Error('stop at 16')); },
        signal: controller.signal,
      });
    } catch (e) {
      error = e.message;
    }
    const ids = await encoder.encode(rows, { batchSize: 8 });
    // Let any orphaned batch settle before looking for unhandled rejections.
    await new Promise((resolve) => setTimeout(resolve, 500));
    window.removeEventListener('unhandledrejection', onUnhandled);
    encoder.free();
    return { error, ids: Array.from(ids), unhandled };
  });
  assert.equal(result.error, 'stop at 16');
  assert.deepEqual(result.unhandled, []);
  assert.equal(firstMismatch(result.ids, native.slice(0, 64 * 3)), -1);
});

test("auto on Chromium's software adapter (SwiftShader) encodes on the CPU, with the native IDs", async () => {
  const result = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const kind = await window.rqvae.webgpuAdapterKind();
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'auto' });
    // Past AUTO_WEBGPU_MIN_ROWS, so only the adapter's kind keeps this on the CPU.
    const rows = 4 * window.rqvae.AUTO_WEBGPU_MIN_ROWS;
    const ids = await encoder.encode(data.subarray(0, rows * 768));
    const backend = encoder.backend;
    encoder.free();
    return { kind, rows, backend, ids: Array.from(ids) };
  });
  assert.equal(result.kind, 'software');
  assert.equal(result.backend, 'cpu');
  assert.equal(result.ids.length, result.rows * 3);
  assert.equal(firstMismatch(result.ids, native.slice(0, result.rows * 3)), -1);
});

test('near-ties: CPU and WebGPU in Chromium give the native IDs on a model built to tie', async () => {
  const model = nearTieModel();
  const native = nativeNearTieIds(model);
  const result = await page.evaluate(async ({ weights, rows }) => {
    const out = {};
    const w = new Uint8Array(weights);
    const x = new Float32Array(rows);
    for (const backend of ['cpu', 'webgpu']) {
      const encoder = await window.rqvae.Encoder.load(w, { backend });
      out[backend] = Array.from(await encoder.encode(x));
      encoder.free();
    }
    return out;
  }, { weights: Array.from(model.weights), rows: Array.from(model.rows) });
  assert.deepEqual(result.cpu, native);
  assert.deepEqual(result.webgpu, native);
});

test('a model that centres its inputs (format 2): CPU and WebGPU in Chromium give the native IDs', async () => {
  const expected = nativeIds(centred.npy, centred.model);
  const result = await page.evaluate(async () => {
    const weights = new Uint8Array(await (await fetch('/data/centred.safetensors')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(new Uint8Array(await (await fetch('/data/shifted.npy')).arrayBuffer()));
    const out = {};
    // All 2,000 rows on the CPU; 100 on WebGPU, which is a slow CPU emulation here.
    for (const [backend, rows] of [['cpu', 2000], ['webgpu', 100]]) {
      const encoder = await window.rqvae.Encoder.load(weights, { backend });
      out[backend] = { backend: encoder.backend, ids: Array.from(await encoder.encode(data.subarray(0, rows * 768))) };
      encoder.free();
    }
    return out;
  });
  assert.equal(result.cpu.backend, 'cpu');
  assert.equal(result.webgpu.backend, 'webgpu');
  assert.equal(firstMismatch(result.cpu.ids, expected), -1);
  assert.equal(firstMismatch(result.webgpu.ids, expected.slice(0, 300)), -1);
});

test('IdTable in Chromium gives the same table as rqvae-train assign', async () => {
  const native = nativeAssign();
  const result = await page.evaluate(async (ids) => {
    const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
    const { data } = await window.rqvae.readNpy(bytes);
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'auto' });
    const { table: first } = await window.rqvae.IdTable.assign(encoder, data.subarray(0, 1000 * 768), { ids: ids.slice(0, 1000) });
    const table = await window.rqvae.IdTable.load(first.toJsonl());
    await table.add(encoder, data.subarray(1000 * 768), { ids: ids.slice(1000) });
    const out = { jsonl: table.toJsonl(), churn: table.churn(first) };
    first.free();
    table.free();
    encoder.free();
    return out;
  }, itemIds());
  assert.equal(result.jsonl, native.jsonl);
  assert.equal(result.churn.changed, 0);
});

test('bad input rejects in the page and the page stays usable', async () => {
  const messages = await page.evaluate(async () => {
    const out = [];
    const encoder = await window.rqvae.Encoder.loadDefault({ backend: 'cpu' });
    const rows = new Float32Array(2 * 768).fill(0.01);
    rows[768 + 3] = NaN;
    for (const attempt of [
      () => encoder.encode(rows),
      () => encoder.encode(new Float32Array(100)),
      () => window.rqvae.Encoder.load(new Uint8Array([1, 2, 3])),
    ]) {
      try {
        await attempt();
        out.push('resolved');
      } catch (e) {
        out.push(`${e.constructor.name} ${e.code}: ${e.message}`);
      }
    }
    rows[768 + 3] = 0.01;
    out.push((await encoder.encode(rows)).length);
    encoder.free();
    return out;
  });
  assert.match(messages[0], /^RqvaeError ERR_NON_FINITE: row 1, column 3 is NaN/);
  assert.match(messages[1], /^RqvaeError ERR_INPUT: 100 values are not a whole number of rows/);
  assert.match(messages[2], /^RqvaeError ERR_WEIGHTS: weights: not a safetensors file/);
  assert.equal(messages[3], 6);
});

test('no request left the origin', () => {
  assert.deepEqual(foreign, []);
});

test('SentenceEncoder in Chromium: sentence-transformers\' vectors on the CPU (a page and 2 Web Workers) and, on a small batch, on WebGPU', { timeout: 240_000 }, async () => {
  const reference = textReference();
  const out = await page.evaluate(async (texts) => {
    const { SentenceEncoder } = window.rqvae;
    const cpu = await SentenceEncoder.loadDefault({ backend: 'cpu' });
    const vectors = Array.from(await cpu.embed(texts, { batchSize: 16 }));
    cpu.free();
    const pooled = await SentenceEncoder.loadDefault({ backend: 'cpu', threads: 2 });
    const pooledVectors = Array.from(await pooled.embed(texts.slice(0, 20), { batchSize: 5 }));
    pooled.free();
    const gpu = await SentenceEncoder.loadDefault({ backend: 'webgpu' });
    const gpuVectors = Array.from(await gpu.embed(texts.slice(0, 8)));
    const backend = gpu.backend;
    gpu.free();
    return { vectors, pooledVectors, gpuVectors, backend };
  }, reference.texts);
  const cosine = (a, b, i) => {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < reference.dim; j++) {
      const x = a[i * reference.dim + j];
      const y = b[i * reference.dim + j];
      d += x * y;
      na += x * x;
      nb += y * y;
    }
    return d / Math.sqrt(na * nb);
  };
  const worst = (got, rows) => Math.min(...Array.from({ length: rows }, (_, i) => cosine(got, reference.embeddings, i)));
  assert.ok(worst(out.vectors, reference.texts.length) >= 0.9999, 'CPU');
  assert.ok(worst(out.pooledVectors, 20) >= 0.9999, 'Web Workers');
  assert.equal(out.backend, 'webgpu');
  assert.ok(worst(out.gpuVectors, 8) >= 0.9999, `WebGPU: ${worst(out.gpuVectors, 8)}`);
});
