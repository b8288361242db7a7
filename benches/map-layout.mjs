// The explorer's map in headless Chromium, as an editor gets it: a file of N items assigned in
// the demo (dist/), then its map laid out in the worker and drawn with WebGL2. Reports, per
// size: the latents' time (during the run), the time from the result on the page to the first
// map drawn and to the settled map, and the frame time while panning (each frame drawn to the
// end: a pixel read back). docs/demo.md quotes it.
//
//   node benches/map-layout.mjs [rows …]      default: 16859 100000
//
// The rows are the shipped sample's with a little noise (seeded), or with RQVAE_TEST_DATA set
// and 16,859 rows asked for, the full catalog itself. Run `npm run build` first.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { readNpy } from '../js/node.js';
import { ROOT, SAMPLE_F16_NPY, chromiumOptions, dataPath, serveStatic } from '../tests/js/fixtures.mjs';

const sizes = process.argv.slice(2).map(Number);
if (sizes.length === 0) sizes.push(16_859, 100_000);

function npyBytes(data, rows, dim) {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = 1;
  header.writeUInt16LE(total - 10, 8);
  header.write(dict + ' '.repeat(total - 10 - dict.length - 1) + '\n', 10, 'latin1');
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** `rows` rows: the sample's, each with seeded noise of 0.02 per value (a catalog's spread). */
function noisyRows(rows) {
  const sample = readNpy(readFileSync(SAMPLE_F16_NPY));
  return sample.then(({ data, rows: n, dim }) => {
    const out = new Float32Array(rows * dim);
    let s = 12345;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) out[r * dim + j] = data[(r % n) * dim + j] + 0.04 * rand();
    return { data: out, dim };
  });
}

execFileSync(process.execPath, [join(ROOT, 'scripts/build-demo.mjs')], { stdio: 'ignore' });
const tmp = mkdtempSync(join(tmpdir(), 'rqvae-map-bench-'));
const server = await serveStatic(join(ROOT, 'dist'));
const browser = await chromium.launch(chromiumOptions());
const version = browser.version();
const results = [];
try {
  for (const rows of sizes) {
    const catalog = rows === 16_859 ? dataPath('embeddings_all-mpnet-base-v2_768d.f16.npy') : null;
    let file = catalog;
    if (!file) {
      const { data, dim } = await noisyRows(rows);
      file = join(tmp, `noisy-${rows}.npy`);
      writeFileSync(file, npyBytes(data, rows, dim));
    }
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.setInputFiles('#file-embeddings', file);
    await page.selectOption('#backend', 'cpu');
    await page.click('#run');
    await page.waitForFunction((n) => document.querySelector('#sum-items')?.dataset.rows === String(n), rows, { timeout: 600_000 });
    await page.waitForFunction(() => /laid out in \d/.test(document.querySelector('#map-status')?.textContent), null, { timeout: 900_000 });
    const m = await page.evaluate(async () => {
      const map = await import(new URL('./map-view.js', document.baseURI).href);
      const s = map.mapState();
      const frames = map.timePan(60).sort((a, b) => a - b);
      const full = map.timePan(60, { sparse: false }).sort((a, b) => a - b);
      return {
        renderer: s.renderer, software: s.software, stride: s.stride,
        latentsMs: s.layout.latentsMs, layoutMs: s.layout.ms,
        firstDrawMs: s.timings.first - s.timings.shown, settledMs: s.timings.settled - s.timings.shown,
        panMedianMs: frames[30], panP95Ms: frames[56], fullFrameMedianMs: full[30],
      };
    });
    results.push({ rows, source: catalog ? 'catalog' : 'sample + noise', ...m });
    console.log(JSON.stringify(results.at(-1)));
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`CPU: ${execFileSync('lscpu').toString().match(/Model name:\s*(.*)/)?.[1]}; Chromium ${version}`);
