// The real npm tarball: `npm pack`, install into a fresh temporary project, then use it from
// Node.js 20 (CPU) and from a page in headless Chromium. IDs must equal the native ones.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import {
  ROOT, SAMPLE_JSONL, SAMPLE_NPY, chromiumOptions, itemIds, nativeAssign, nativeIds, serveStatic, trainerBin,
} from './fixtures.mjs';

let project;
let tarball;
let native;

before(() => {
  native = nativeIds();
  const packDir = mkdtempSync(join(tmpdir(), 'rqvae-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  tarball = { path: join(packDir, info.filename), files: info.files.map((f) => f.path), size: info.size };
  project = mkdtempSync(join(tmpdir(), 'rqvae-consumer-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The package has no runtime dependencies, so this installs from the tarball alone.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball.path], { cwd: project, stdio: 'pipe' });
});

test('the tarball holds the module, its types, the wasm and the default model, and nothing else', () => {
  const files = new Set(tarball.files);
  // Every module of js/ (both entries, their workers, whatever they import) and the types.
  const modules = readdirSync(join(ROOT, 'js'), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(ROOT, join(d.parentPath ?? d.path, d.name)));
  for (const f of ['js/index.js', 'js/node.js', 'js/cpu-worker.js', 'js/node-cpu-worker.js', 'js/index.d.ts']) {
    assert.ok(modules.includes(f), `js/ lacks ${f}`);
  }
  for (const f of ['package.json', ...modules, 'pkg/rqvae.js', 'pkg/rqvae_bg.wasm', 'pkg/rqvae_relaxed_bg.wasm', 'www/models/default.safetensors',
    'pkg/rqvae_text.js', 'pkg/rqvae_text_bg.wasm', 'www/models/minilm.safetensors', 'www/models/minilm-l6-v2.text.safetensors']) {
    assert.ok(files.has(f), `tarball lacks ${f}`);
  }
  for (const f of files) {
    assert.ok(!f.startsWith('src/') && !f.startsWith('trainer/') && !f.startsWith('tests/'), `tarball ships ${f}`);
  }
});

test('installed package works from Node.js (CPU)', () => {
  const script = `
    import { readFileSync } from 'node:fs';
    import { Encoder, readNpy } from 'rqvae';
    const { data } = await readNpy(readFileSync(${JSON.stringify(SAMPLE_NPY)}));
    const encoder = await Encoder.loadDefault();
    const ids = await encoder.encode(data.subarray(0, 50 * 768));
    // Workers load js/cpu-worker.js from the installed package; no free(): idle workers must
    // not keep the process alive.
    const pooled = await Encoder.loadDefault({ threads: 2 });
    const pooledIds = await pooled.encode(data.subarray(0, 50 * 768), { batchSize: 10 });
    // The package's exports: Node.js gets its own entry; the assets have names of their own.
    const resolved = ['rqvae', 'rqvae/rqvae_bg.wasm', 'rqvae/models/default.safetensors'].map((s) => import.meta.resolve(s));
    console.log(JSON.stringify({ backend: encoder.backend, ids: Array.from(ids), pooledIds: Array.from(pooledIds), resolved }));
  `;
  writeFileSync(join(project, 'use.mjs'), script);
  const out = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000 }));
  assert.equal(out.backend, 'cpu');
  assert.deepEqual(out.ids, native.slice(0, 150));
  assert.deepEqual(out.pooledIds, native.slice(0, 150));
  const installed = pathToFileURL(join(project, 'node_modules/rqvae/')).href;
  assert.deepEqual(out.resolved, ['js/node.js', 'pkg/rqvae_bg.wasm', 'www/models/default.safetensors'].map((f) => installed + f));
});

test('installed package makes the same ID table as rqvae-train assign', () => {
  const native = nativeAssign();
  const script = `
    import { readFileSync } from 'node:fs';
    import { Encoder, IdTable, readNpy } from 'rqvae';
    const { data } = await readNpy(readFileSync(${JSON.stringify(SAMPLE_NPY)}));
    const encoder = await Encoder.loadDefault();
    const { table } = await IdTable.assign(encoder, data, { ids: ${JSON.stringify(itemIds())} });
    process.stdout.write(table.toJsonl());
  `;
  writeFileSync(join(project, 'table.mjs'), script);
  const out = execFileSync(process.execPath, ['table.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  assert.equal(out, native.jsonl);
});

test('installed package: the default text model embeds 200 catalog titles as the CLI does, and their IDs from the MiniLM model equal the CLI\'s', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-pack-text-'));
  const titles = readFileSync(SAMPLE_JSONL, 'utf8').trim().split('\n').slice(0, 200).map((l) => JSON.parse(l));
  const items = join(dir, 'titles.jsonl');
  writeFileSync(items, `${titles.map((t) => JSON.stringify({ id: t.id, title: t.title })).join('\n')}\n`);
  const cliVectors = join(dir, 'vectors.npy');
  const cliTable = join(dir, 'table.jsonl');
  // The model the package ships: the f16 bundle (the directory's f32 weights move a few near-ties).
  const textModel = join(ROOT, 'www/models/minilm-l6-v2.text.safetensors');
  execFileSync(trainerBin(), ['embed', '--text-model', textModel, '--items', items, '--out', cliVectors], { stdio: 'pipe' });
  execFileSync(trainerBin(), ['assign', '--model', join(ROOT, 'www/models/minilm.safetensors'), '--text-model', textModel,
    '--items', items, '--out', cliTable], { stdio: 'pipe' });
  const script = `
    import { readFileSync } from 'node:fs';
    import { Encoder, IdTable, SentenceEncoder, readTitles } from 'rqvae';
    const { ids, titles } = await readTitles(readFileSync(${JSON.stringify(items)}), { name: 'titles.jsonl' });
    const text = await SentenceEncoder.loadDefault();
    const vectors = await text.embed(titles);
    const encoder = await Encoder.loadDefault({ model: 'minilm' });
    const { table } = await IdTable.assign(encoder, titles, { ids, textEncoder: text });
    const resolved = ['rqvae/models/minilm-l6-v2.text.safetensors', 'rqvae/rqvae_text_bg.wasm'].map((s) => import.meta.resolve(s));
    console.log(JSON.stringify({ vectors: Array.from(vectors), table: table.toJsonl(), resolved }));
  `;
  writeFileSync(join(project, 'text.mjs'), script);
  const out = JSON.parse(execFileSync(process.execPath, ['text.mjs'], { cwd: project, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20 }));
  const bytes = readFileSync(cliVectors);
  const cli = new Float32Array(bytes.buffer.slice(bytes.byteOffset + bytes.indexOf(0x0a) + 1, bytes.byteOffset + bytes.length));
  let worst = 1;
  for (let r = 0; r < 200; r++) {
    let d = 0; let na = 0; let nb = 0;
    for (let j = 0; j < 384; j++) {
      const a = out.vectors[r * 384 + j]; const b = cli[r * 384 + j];
      d += a * b; na += a * a; nb += b * b;
    }
    worst = Math.min(worst, d / Math.sqrt(na * nb));
  }
  assert.ok(worst >= 0.9999, `smallest cosine to the CLI's vectors ${worst}`);
  assert.equal(out.table, readFileSync(cliTable, 'utf8'), 'the ID table from titles equals the CLI\'s');
  const installed = pathToFileURL(join(project, 'node_modules/rqvae/')).href;
  assert.deepEqual(out.resolved, ['www/models/minilm-l6-v2.text.safetensors', 'pkg/rqvae_text_bg.wasm'].map((f) => installed + f));
});

test('installed package works from a browser page', async () => {
  writeFileSync(
    join(project, 'index.html'),
    `<!doctype html><meta charset="utf-8"><title>loading</title>
     <script type="module">
       import { Encoder, readNpy } from './node_modules/rqvae/js/index.js';
       const bytes = new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer());
       const { data } = await readNpy(bytes);
       const encoder = await Encoder.loadDefault({ backend: 'cpu' });
       window.ids = Array.from(await encoder.encode(data.subarray(0, 50 * 768)));
       document.title = 'done';
     </script>`,
  );
  const server = await serveStatic(project, { '/data/sample.npy': SAMPLE_NPY });
  const browser = await chromium.launch(chromiumOptions());
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => document.title === 'done' || window.ids, null, { timeout: 60_000 });
    assert.deepEqual(errors, []);
    assert.deepEqual(await page.evaluate(() => window.ids), native.slice(0, 150));
  } finally {
    await browser.close();
    await server.close();
  }
});

