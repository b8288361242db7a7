// WebGPU in headless Chromium: the fixed costs a page pays once (adapter and device, the
// encoder's WebGPU set-up, the first encode's shader compilation and read-back) and the encode
// rate per batch size, with the CPU path's rate on the same rows in the same page as the peer.
// IDs are checked against `rqvae-train encode` on every row encoded.
//
//   node benches/webgpu.mjs [--embeddings F.npy] [--rows N] [--batches 16,256,1024] [--runs R] [--json out.json]
//
// Needs `npm run build` (pkg/) and a release `rqvae-train` (CARGO_TARGET_DIR or ./target). Runs on
// whatever adapter Chromium offers: here SwiftShader (software); on a GPU machine, give Chromium a
// hardware adapter (CHROMIUM=/path/to/chrome with its GPU flags) for the figures that matter.

import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { ROOT, SAMPLE_NPY, chromiumOptions, nativeIds, serveStatic } from '../tests/js/fixtures.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const embeddings = args.embeddings ?? SAMPLE_NPY;
const rows = Number(args.rows ?? 1024);
const batches = (args.batches ?? '16,256,1024').split(',').map(Number);
const runs = Number(args.runs ?? 3);
if (!Number.isInteger(rows) || rows < 1 || batches.some((b) => !Number.isInteger(b) || b < 1) || !(runs >= 1)) {
  console.error('usage: node benches/webgpu.mjs [--embeddings F.npy] [--rows N] [--batches 16,256,1024] [--runs R] [--json out.json]');
  process.exit(2);
}

const native = nativeIds(embeddings);
const server = await serveStatic(ROOT, { '/data/bench.npy': embeddings });
const browser = await chromium.launch(chromiumOptions());
let result;
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/tests/js/page.html`);
  await page.waitForFunction(() => document.title === 'ready');
  result = await page.evaluate(
    async ({ rows, batches, runs }) => {
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const { Encoder, readNpy, webgpuAdapterKind } = window.rqvae;
      const timed = async (fn) => {
        const t = performance.now();
        const value = await fn();
        return [performance.now() - t, value];
      };
      if (!navigator.gpu) return { error: 'this Chromium offers no navigator.gpu (needs --enable-unsafe-webgpu)' };
      const [adapterMs, adapter] = await timed(() => navigator.gpu.requestAdapter());
      if (!adapter) return { error: 'no WebGPU adapter' };
      const [deviceMs, device] = await timed(() => adapter.requestDevice());
      device.destroy();
      const { data, rows: available, dim } = await readNpy(new Uint8Array(await (await fetch('/data/bench.npy')).arrayBuffer()));
      const n = Math.min(rows, available);
      const x = data.subarray(0, n * dim);
      const [cpuLoadMs, cpu] = await timed(() => Encoder.loadDefault({ backend: 'cpu' }));
      const [gpuLoadMs, gpu] = await timed(() => Encoder.loadDefault({ backend: 'webgpu' }));
      const first = x.subarray(0, 16 * dim);
      const [firstEncodeMs] = await timed(() => gpu.encode(first));
      const [secondEncodeMs] = await timed(() => gpu.encode(first));
      const rates = [];
      const ids = {};
      for (const batchSize of batches) {
        const gpuMs = [];
        const cpuMs = [];
        // Each batch shape compiles its own kernels once: not part of the rate.
        await gpu.encode(x.subarray(0, Math.min(batchSize, n) * dim), { batchSize });
        for (let r = 0; r < runs; r++) {
          const [g, out] = await timed(() => gpu.encode(x, { batchSize }));
          gpuMs.push(g);
          ids[batchSize] = Array.from(out);
          cpuMs.push((await timed(() => cpu.encode(x, { batchSize })))[0]);
        }
        const webgpu = n / (median(gpuMs) / 1000);
        const cpuRate = n / (median(cpuMs) / 1000);
        rates.push({ batch: batchSize, webgpu_items_per_s: webgpu, cpu_items_per_s: cpuRate, webgpu_vs_cpu: webgpu / cpuRate });
      }
      gpu.free();
      cpu.free();
      return {
        adapter: await webgpuAdapterKind(),
        adapter_info: adapter.info ? { vendor: adapter.info.vendor, architecture: adapter.info.architecture, description: adapter.info.description } : null,
        rows: n,
        fixed_costs_ms: {
          request_adapter: adapterMs,
          request_device: deviceMs,
          load_default_cpu: cpuLoadMs,
          load_default_webgpu: gpuLoadMs,
          first_encode_16_rows: firstEncodeMs,
          second_encode_16_rows: secondEncodeMs,
        },
        rates,
        ids,
      };
    },
    { rows, batches, runs },
  );
} finally {
  await browser.close();
  await server.close();
}
if (result.error) {
  console.error(result.error);
  process.exit(1);
}
// Every batch size must give the native IDs: a fast wrong answer is no figure.
for (const [batch, ids] of Object.entries(result.ids)) {
  const bad = ids.findIndex((v, i) => v !== native[i]);
  if (bad >= 0) {
    console.error(`batch ${batch}: WebGPU IDs differ from rqvae-train encode at row ${Math.floor(bad / 3)}`);
    process.exit(1);
  }
}
delete result.ids;
result.ids_equal_native = true;
console.log(JSON.stringify(result, null, 2));
if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
