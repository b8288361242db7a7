// Where the package gets its weights and its wasm module from, in Node.js: bytes, a Response, a
// URL (file: or http:) or a path, for Encoder.load, Encoder.loadDefault({ url }) and
// initWasm({ wasm }); every failure an RqvaeError with its code. (Pages, bundlers and self-hosted
// assets in the browser: tests/js/bundlers.test.mjs.)

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Encoder, RqvaeError, defaultModelUrl, readNpy } from '../../js/node.js';
import { DEFAULT_MODEL, ROOT, SAMPLE_NPY, nativeIds, serveStatic, temporaryDirs } from './fixtures.mjs';

const WASM = join(ROOT, 'pkg/rqvae_bg.wasm');
let server;
let rows;
let native;
const temporary = temporaryDirs();
const tempDir = (name) => temporary.make(name);

before(async () => {
  server = await serveStatic(ROOT);
  rows = (await readNpy(readFileSync(SAMPLE_NPY))).data.subarray(0, 20 * 768);
  native = nativeIds().slice(0, 60);
});

after(async () => {
  await server?.close();
  temporary.removeAll();
});

const code = (expected) => (e) => {
  assert.ok(e instanceof RqvaeError, `an RqvaeError, not ${e?.name}: ${e?.message}`);
  assert.equal(e.code, expected, e.message);
  return true;
};

async function idsOf(encoder) {
  try {
    return Array.from(await encoder.encode(rows));
  } finally {
    encoder.free();
  }
}

test('defaultModelUrl is the shipped model, a file: URL in Node.js', () => {
  assert.equal(defaultModelUrl, pathToFileURL(DEFAULT_MODEL).href);
});

test('Encoder.load takes bytes, a Response, a file: URL, a file: URL string, a path or an http URL', async () => {
  const bytes = readFileSync(DEFAULT_MODEL);
  const sources = {
    'a Uint8Array': new Uint8Array(bytes),
    'an ArrayBuffer': bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    'a Response': new Response(bytes),
    'a file: URL': pathToFileURL(DEFAULT_MODEL),
    'a file: URL string': pathToFileURL(DEFAULT_MODEL).href,
    'an absolute path': DEFAULT_MODEL,
    'a relative path': relative(process.cwd(), DEFAULT_MODEL),
    'an http URL': new URL('/www/models/default.safetensors', server.url),
    'an http URL string': `${server.url}/www/models/default.safetensors`,
  };
  for (const [what, source] of Object.entries(sources)) {
    assert.deepEqual(await idsOf(await Encoder.load(source)), native, what);
  }
  assert.ok(server.requests.includes('/www/models/default.safetensors'));
});

test('Encoder.loadDefault({ url }) loads from there, with the other options kept', async () => {
  const copy = join(tempDir('copy'), 'model.safetensors');
  copyFileSync(DEFAULT_MODEL, copy);
  const encoder = await Encoder.loadDefault({ url: copy, threads: 2, backend: 'cpu' });
  assert.equal(encoder.threads, 2);
  assert.deepEqual(await idsOf(encoder), native);
  server.requests.splice(0);
  assert.deepEqual(await idsOf(await Encoder.loadDefault({ url: `${server.url}/www/models/default.safetensors` })), native);
  assert.deepEqual(server.requests, ['/www/models/default.safetensors']);
});

test('sources that cannot be read reject with ERR_FETCH, sources of another type with ERR_INPUT', async () => {
  await assert.rejects(Encoder.load(join(tmpdir(), 'no-such-dir/model.safetensors')), code('ERR_FETCH'));
  await assert.rejects(Encoder.load(pathToFileURL(join(tmpdir(), 'missing.safetensors'))), code('ERR_FETCH'));
  await assert.rejects(Encoder.load(`${server.url}/missing.safetensors`), (e) => code('ERR_FETCH')(e) && /HTTP 404/.test(e.message));
  await assert.rejects(Encoder.load(new Response('oops', { status: 500 })), code('ERR_FETCH'));
  // Nothing listens on port 9 (discard) here: a network failure, not an HTTP status.
  await assert.rejects(Encoder.load('http://127.0.0.1:9/model.safetensors'), code('ERR_FETCH'));
  await assert.rejects(Encoder.loadDefault({ url: join(tmpdir(), 'missing.safetensors') }), code('ERR_FETCH'));
  for (const bad of [42, null, {}, [1, 2, 3], new Blob([readFileSync(DEFAULT_MODEL)])]) {
    await assert.rejects(Encoder.load(bad), code('ERR_INPUT'));
  }
  await assert.rejects(Encoder.loadDefault({ url: 42 }), code('ERR_INPUT'));
  // Read, but not weights.
  await assert.rejects(Encoder.load(join(ROOT, 'package.json')), code('ERR_WEIGHTS'));
});

/**
 * Runs `body` in a fresh Node.js process (the wasm module loads once per process), with `rqvae`,
 * `rows` (20 sample rows) and `report(value)` in scope; resolves to the reported value.
 */
async function inFreshProcess(body) {
  const script = `
    import { readFileSync } from 'node:fs';
    import * as rqvae from ${JSON.stringify(pathToFileURL(join(ROOT, 'js/node.js')).href)};
    const report = (value) => console.log(JSON.stringify(value));
    const outcome = (promise) => promise.then(() => 'resolved', (e) => \`\${e.name} \${e.code}\`);
    // Not readNpy: like every call, it would load the default wasm before the body's initWasm.
    const npy = readFileSync(${JSON.stringify(SAMPLE_NPY)});
    const start = npy.byteOffset + npy.indexOf(10) + 1;
    const rows = new Float32Array(npy.buffer.slice(start, start + 20 * 768 * 4));
    ${body}
  `;
  // A file, not --eval: worker threads inherit the process's flags, and --input-type fails them.
  const file = join(tempDir('fresh'), 'run.mjs');
  writeFileSync(file, script);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 60_000 });
  return JSON.parse(stdout);
}

test('initWasm({ wasm }) loads the module from a path, a file: or http URL, a Response, bytes or a compiled module', async () => {
  const copy = join(tempDir('wasm'), 'engine.wasm');
  copyFileSync(WASM, copy);
  const sources = {
    'a path': JSON.stringify(copy),
    'a file: URL': `new URL(${JSON.stringify(pathToFileURL(copy).href)})`,
    'an http URL string': JSON.stringify(`${server.url}/pkg/rqvae_bg.wasm`),
    'a Response': `new Response(readFileSync(${JSON.stringify(copy)}))`,
    'bytes': `readFileSync(${JSON.stringify(copy)})`,
    'a compiled module': `await WebAssembly.compile(readFileSync(${JSON.stringify(copy)}))`,
  };
  for (const [what, source] of Object.entries(sources)) {
    // Workers get the module initWasm compiled: 2 threads check that they start from it.
    const ids = await inFreshProcess(`
      await rqvae.initWasm({ wasm: ${source} });
      const encoder = await rqvae.Encoder.loadDefault({ threads: 2 });
      report(Array.from(await encoder.encode(rows, { batchSize: 5 })));
    `);
    assert.deepEqual(ids, native, what);
  }
  assert.ok(server.requests.includes('/pkg/rqvae_bg.wasm'), 'the http URL was fetched');
});

test('initWasm({ wasm }): a failed load rejects with its code and may be retried; once loaded, another source is refused', async () => {
  const outcomes = await inFreshProcess(`
    const missing = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(join(tmpdir(), 'missing.wasm'))} }));
    const http404 = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(`${server.url}/missing.wasm`)} }));
    // A location that answers with something else, as a host's HTML page for a missing file.
    const notWasmThere = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(join(ROOT, 'package.json'))} }));
    const notWasmBytes = await outcome(rqvae.initWasm({ wasm: new Uint8Array(16) }));
    const badType = await outcome(rqvae.initWasm({ wasm: 42 }));
    const retried = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(WASM)} }));
    const same = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(WASM)} }));
    const plain = await outcome(rqvae.initWasm());
    const other = await outcome(rqvae.initWasm({ wasm: ${JSON.stringify(`${server.url}/pkg/rqvae_bg.wasm`)} }));
    const encoder = await rqvae.Encoder.loadDefault();
    report({ missing, http404, notWasmThere, notWasmBytes, badType, retried, same, plain, other, ids: Array.from(await encoder.encode(rows)) });
  `);
  assert.deepEqual(outcomes, {
    missing: 'RqvaeError ERR_FETCH',
    http404: 'RqvaeError ERR_FETCH',
    notWasmThere: 'RqvaeError ERR_FETCH',
    notWasmBytes: 'RqvaeError ERR_INPUT',
    badType: 'RqvaeError ERR_INPUT',
    retried: 'resolved',
    same: 'resolved',
    plain: 'resolved',
    other: 'RqvaeError ERR_OPTION',
    ids: native,
  });
});
