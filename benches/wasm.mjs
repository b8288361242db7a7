// Browser-side benchmark: wasm CPU encode throughput in Node and in headless Chromium, WebGPU
// throughput at a few batch sizes (the CPU/WebGPU crossover), and the native figures from
// `rqvae-train encode` on the same data in the same run. Prints a table and writes JSON.
//
//   node benches/wasm.mjs [--rows N] [--runs R] [--workers W] [--json out.json]
//
// Needs `npm run build` (pkg/) and a release `rqvae-train` (CARGO_TARGET_DIR or ./target).

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Encoder, readNpy } from '../js/node.js';
import {
  CATALOG_NPY, DEFAULT_MODEL, FULL_DATA_VAR, ROOT, SAMPLE_F16_NPY, chromiumOptions, nativeIds, serveStatic, trainerBin,
} from '../tests/js/fixtures.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
// The full catalog where RQVAE_TEST_DATA names it (the published figures), else the shipped sample.
const FULL = CATALOG_NPY ?? SAMPLE_F16_NPY;
if (!CATALOG_NPY) console.error(`${FULL_DATA_VAR} is not set: benchmarking on the 3,000-row sample`);
const runs = Number(args.runs ?? 5);
// Workers for the pooled CPU figures: this machine's cores.
const WORKERS = Number(args.workers ?? availableParallelism());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function nativeRate(threads) {
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const out = execFileSync(
      'bash',
      ['-c', `RAYON_NUM_THREADS=${threads} MATMUL_NUM_THREADS=${threads} "${trainerBin()}" encode --model "${DEFAULT_MODEL}" --embeddings "${FULL}" --out /tmp/rqvae-bench-ids.npy 2>&1 >/dev/null`],
      { encoding: 'utf8' },
    );
    const m = out.match(/\(([\d.]+) items\/s\)/);
    rates.push(Number(m[1]));
  }
  return median(rates);
}

async function nodeRate(data, rows, threads = 1) {
  const encoder = await Encoder.loadDefault({ backend: 'cpu', threads });
  const x = data.subarray(0, rows * 768);
  await encoder.encode(x.subarray(0, 1024 * 768), { batchSize: 256 }); // warm-up (every worker)
  const rates = [];
  let ids;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    ids = await encoder.encode(x, { batchSize: threads > 1 ? 1024 : 4096 });
    rates.push(rows / ((performance.now() - t) / 1000));
  }
  encoder.free();
  return { rate: median(rates), ids };
}

/** Rows whose IDs differ between the wasm CPU backend and native `rqvae-train encode`. */
function differingRows(wasmIds, native, rows) {
  const levels = wasmIds.length / rows;
  let differing = 0;
  for (let r = 0; r < rows; r++) {
    for (let l = 0; l < levels; l++) {
      if (native[r * levels + l] !== wasmIds[r * levels + l]) {
        differing++;
        break;
      }
    }
  }
  return differing;
}

async function browserRates(rows) {
  const server = await serveStatic(ROOT, { '/data/full.npy': FULL });
  const browser = await chromium.launch(chromiumOptions());
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/tests/js/page.html`);
    await page.waitForFunction(() => document.title === 'ready');
    return await page.evaluate(
      async ({ rows, runs, threads }) => {
        const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const { Encoder, readNpy, webgpuAvailable } = window.rqvae;
        const { data } = await readNpy(new Uint8Array(await (await fetch('/data/full.npy')).arrayBuffer()));
        const x = data.subarray(0, rows * 768);
        const pooled = await Encoder.loadDefault({ backend: 'cpu', threads });
        await pooled.encode(x.subarray(0, 1024 * 768), { batchSize: 256 });
        const pooledRates = [];
        for (let r = 0; r < runs; r++) {
          const t = performance.now();
          await pooled.encode(x, { batchSize: 1024 });
          pooledRates.push(rows / ((performance.now() - t) / 1000));
        }
        pooled.free();
        const cpu = await Encoder.loadDefault({ backend: 'cpu' });
        await cpu.encode(x.subarray(0, 1024 * 768));
        const cpuRates = [];
        for (let r = 0; r < runs; r++) {
          const t = performance.now();
          await cpu.encode(x, { batchSize: 4096 });
          cpuRates.push(rows / ((performance.now() - t) / 1000));
        }
        const crossover = [];
        if (await webgpuAvailable()) {
          const gpu = await Encoder.loadDefault({ backend: 'webgpu' });
          for (const n of [16, 64, 256, 1024]) {
            const part = data.subarray(0, n * 768);
            await gpu.encode(part, { batchSize: n }); // warm-up: pipeline compilation
            let t = performance.now();
            await gpu.encode(part, { batchSize: n });
            const gpuMs = performance.now() - t;
            t = performance.now();
            await cpu.encode(part, { batchSize: n });
            const cpuMs = performance.now() - t;
            crossover.push({ rows: n, webgpu_ms: gpuMs, cpu_ms: cpuMs });
          }
          gpu.free();
        }
        cpu.free();
        return { cpu: median(cpuRates), [`cpu_${threads}_workers`]: median(pooledRates), crossover };
      },
      { rows, runs, threads: WORKERS },
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

const wasmPath = join(ROOT, 'pkg/rqvae_bg.wasm');
const jsPath = join(ROOT, 'pkg/rqvae.js');
const wasmBytes = readFileSync(wasmPath);
// Every JS file the package ships: the wasm-bindgen glue, the API and the CPU worker pool.
const jsBytes = Buffer.concat(
  [jsPath, ...['index.js', 'cpu-pool.js', 'cpu-worker.js'].map((f) => join(ROOT, 'js', f))].map((p) => readFileSync(p)),
);
const sizes = {
  wasm_raw: statSync(wasmPath).size,
  wasm_gzip: gzipSync(wasmBytes, { level: 9 }).length,
  js_raw: jsBytes.length,
  js_gzip: gzipSync(jsBytes, { level: 9 }).length,
};

const { data, rows: total } = await readNpy(readFileSync(FULL));
const rows = Number(args.rows ?? total);
const result = {
  rows,
  runs,
  sizes,
  native_items_per_s_1_thread: nativeRate(1),
  native_items_per_s_2_threads: nativeRate(2),
};
const native = nativeIds(FULL);
const node = await nodeRate(data, rows);
result.node_wasm_cpu_items_per_s = node.rate;
result.rows_with_ids_differing_from_native = differingRows(node.ids, native, rows);
const pooled = await nodeRate(data, rows, WORKERS);
result[`node_wasm_cpu_${WORKERS}_workers_items_per_s`] = pooled.rate;
result.rows_with_ids_differing_from_native_pooled = differingRows(pooled.ids, native, rows);
result.chromium = await browserRates(rows);
result.node_vs_native_1t = result.node_wasm_cpu_items_per_s / result.native_items_per_s_1_thread;
result.chromium_vs_native_1t = result.chromium.cpu / result.native_items_per_s_1_thread;
console.log(JSON.stringify(result, null, 2));
if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
