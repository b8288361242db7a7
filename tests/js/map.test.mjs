// The explorer's map through the npm package: an encoder's latents laid out by mapLayout, with
// neighbours kept far better than by chance, the same map for the same seed, progress while it
// settles, cancelling, and bad input as RqvaeErrors with their codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Encoder, RqvaeError, mapLayout, readNpy } from '../../js/node.js';
import { SAMPLE_NPY } from './fixtures.mjs';

const sample = await readNpy(readFileSync(SAMPLE_NPY));
const encoder = await Encoder.loadDefault({ backend: 'cpu' });
const dim = encoder.config.latent_dim;
const latents = await encoder.latents(sample.data);
encoder.free();
const rows = latents.length / dim;

/** Row `q`'s `k` nearest rows of `data` (`width` values each) by Euclidean distance. */
function nearest(data, width, q, k) {
  const d = [];
  for (let r = 0; r < data.length / width; r++) {
    if (r === q) continue;
    let s = 0;
    for (let j = 0; j < width; j++) s += (data[q * width + j] - data[r * width + j]) ** 2;
    d.push([s, r]);
  }
  d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return d.slice(0, k).map(([, r]) => r);
}

test('latents are one row of the latent width per item, and finite', () => {
  assert.equal(rows, sample.rows);
  assert.ok(latents.every(Number.isFinite));
});

test('the map keeps many of each item\'s nearest items near it, and reports its progress', async () => {
  const steps = [];
  const positions = await mapLayout(latents, { dim, epochs: 120, stepEpochs: 40, onProgress: (p) => steps.push(p) });
  assert.equal(positions.length, rows * 2);
  assert.deepEqual(steps.map((s) => [s.epochsDone, s.epochs]), [[0, 120], [40, 120], [80, 120], [120, 120]]);
  assert.equal(steps[0].positions.length, rows * 2);
  assert.deepEqual(steps.at(-1).positions, positions);
  let kept = 0;
  const queries = Array.from({ length: 100 }, (_, i) => Math.floor((i * rows) / 100));
  for (const q of queries) {
    const high = new Set(nearest(latents, dim, q, 10));
    kept += nearest(positions, 2, q, 10).filter((r) => high.has(r)).length;
  }
  const share = kept / (queries.length * 10);
  // By chance: 10 / 2,000.
  assert.ok(share >= 0.2, `the map keeps ${share} of the 10 nearest`);
});

test('the same seed gives the same map, another seed another', async () => {
  const part = latents.subarray(0, 500 * dim);
  const a = await mapLayout(part, { dim, epochs: 30 });
  const b = await mapLayout(part, { dim, epochs: 30 });
  const c = await mapLayout(part, { dim, epochs: 30, seed: 43 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a cancelled map rejects with the signal\'s reason', async () => {
  const controller = new AbortController();
  const run = mapLayout(latents, { dim, epochs: 400, stepEpochs: 1, signal: controller.signal, onProgress: () => controller.abort() });
  await assert.rejects(run, { name: 'AbortError' });
});

test('bad latents and options are refused with their codes, the row named', async () => {
  const bad = latents.slice(0, 200 * dim);
  bad[17 * dim + 3] = NaN;
  await assert.rejects(mapLayout(bad, { dim }), (e) => e instanceof RqvaeError && e.code === 'ERR_NON_FINITE' && /row 17/.test(e.message));
  await assert.rejects(mapLayout(latents.slice(0, 10 * dim), { dim }), { code: 'ERR_INPUT', message: /10 items/ });
  // Refused before a start is reported: a page draws nothing for a map that will not be made.
  const steps = [];
  await assert.rejects(mapLayout(latents.slice(0, 10 * dim), { dim, onProgress: (p) => steps.push(p) }), { code: 'ERR_INPUT' });
  assert.equal(steps.length, 0);
  await assert.rejects(mapLayout(latents.slice(0, 7), { dim }), { code: 'ERR_DIMENSION' });
  await assert.rejects(mapLayout([1, 2, 3], { dim: 1 }), { code: 'ERR_INPUT' });
  await assert.rejects(mapLayout(latents, { dim, epochs: 0 }), { code: 'ERR_OPTION' });
  await assert.rejects(mapLayout(latents, { dim, neighbours: 1.5 }), { code: 'ERR_OPTION' });
  await assert.rejects(mapLayout(latents, { dim, neighbours: 1 }), { code: 'ERR_OPTION', message: /neighbours/ });
  await assert.rejects(mapLayout(latents), { code: 'ERR_OPTION', message: /dim/ });
});
