// Writes the latents the demo's map lays out, for benches/map_vs_umap_learn.py: the shipped
// sample's (3,000 rows) and 100,000 rows of the sample with seeded noise (the rows
// benches/map-layout.mjs gives the page), as raw little-endian float32, 32 values a row.
//
//   node benches/map-latents.mjs OUT_DIR

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder, readNpy } from '../js/node.js';

const out = process.argv[2];
if (!out) throw new Error('usage: node benches/map-latents.mjs OUT_DIR');
const { data, rows: n, dim } = await readNpy(readFileSync(new URL('../www/sample/games-3000.f16.npy', import.meta.url)));
const noisy = new Float32Array(100_000 * dim);
let s = 12345; // the same generator and seed as benches/map-layout.mjs
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
for (let r = 0; r < 100_000; r++) for (let j = 0; j < dim; j++) noisy[r * dim + j] = data[(r % n) * dim + j] + 0.04 * rand();
const encoder = await Encoder.loadDefault({ backend: 'cpu' });
for (const [name, rows] of [['sample', data], ['noisy-100000', noisy]]) {
  const latents = await encoder.latents(rows);
  writeFileSync(join(out, `${name}.latents.f32`), Buffer.from(latents.buffer));
}
encoder.free();
