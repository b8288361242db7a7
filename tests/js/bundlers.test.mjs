// The npm tarball in the apps people build with it: installed into a fresh Vite app and a fresh
// webpack 5 app (default settings), each built by its bundler and opened in headless Chromium, and
// imported by path from a page on a static host, with no bundler and no import map. Every one
// must find the wasm, the default model and the CPU worker on its own, and encode to the native
// IDs on the calling thread and on 2 workers.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import { build as viteBuild, createServer as viteServer } from 'vite';
import webpack from 'webpack';
import { ROOT, SAMPLE_NPY, chromiumOptions, nativeIds, serveStatic, temporaryDirs } from './fixtures.mjs';

const ROWS = 200;
// No favicon request: every request a page makes must find a file.
const HEAD = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">';
let native;
let tarball;
let browser;
// Every app is a few copies of the 6 MB of assets: removed at the end.
const temporary = temporaryDirs();
const tempDir = (name) => temporary.make(name);

before(async () => {
  native = nativeIds().slice(0, ROWS * 3);
  const packDir = tempDir('pack');
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' }));
  tarball = join(packDir, info.filename);
  browser = await chromium.launch(chromiumOptions());
});

after(async () => {
  await browser?.close();
  temporary.removeAll();
});

/** A fresh project with the tarball installed (no registry: the package has no dependencies). */
function freshApp(name) {
  const app = tempDir(name);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `${name}-app`, private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: 'pipe' });
  return app;
}

/**
 * The app's code: what a user writes. `from` is where it imports the package from; the page
 * fetches the shared sample (served at /data/sample.npy) and leaves its results in window.report.
 */
function appSource(from) {
  return `
    import { Encoder, readNpy } from ${JSON.stringify(from)};
    const report = {};
    try {
      const { data } = await readNpy(new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer()));
      const rows = data.subarray(0, ${ROWS} * 768);
      const single = await Encoder.loadDefault();
      report.ids = Array.from(await single.encode(rows));
      report.backend = single.backend;
      const pooled = await Encoder.loadDefault({ threads: 2 });
      report.pooledIds = Array.from(await pooled.encode(rows, { batchSize: 25 }));
      report.threads = pooled.threads;
    } catch (e) {
      report.error = \`\${e.name} \${e.code}: \${e.message}\`;
    }
    window.report = report;
  `;
}

/**
 * Opens `path` on `server` and returns the page's report, with the requests that failed: those
 * that left the origin, those the browser saw answered with an HTTP error, and (for a server of
 * serveStatic's, which sees workers' requests too) those that found no file under `root` nor
 * among `served`, the server's extra paths.
 */
async function run(server, path, { root, served = [] } = {}) {
  const page = await browser.newPage();
  const errors = [];
  const foreign = [];
  const failed = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) foreign.push(r.url());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(new URL(r.url()).pathname);
  });
  server.requests?.splice(0);
  try {
    await page.goto(`${server.url}${path}`);
    await page.waitForFunction(() => window.report, null, { timeout: 60_000 });
    const report = await page.evaluate(() => window.report);
    const requests = [...(server.requests ?? [])];
    const missing = requests.filter((p) => !served.includes(p) && !existsSync(join(root, p)));
    return { report, errors, foreign, failed, missing, requests };
  } finally {
    await page.close();
  }
}

function assertNativeIds({ report, errors, foreign, failed, missing, requests }) {
  assert.equal(report.error, undefined);
  // A page that only encodes vectors never downloads the text module or the text model.
  const text = requests.filter((p) => /rqvae_text|minilm-l6-v2\.text/.test(p));
  assert.deepEqual(text, [], 'the text module and model are fetched only when text is used');
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, [], 'every request stays on the app origin');
  assert.deepEqual(failed, [], 'no request fails');
  assert.deepEqual(missing, [], 'every request finds a file');
  assert.equal(report.backend, 'cpu');
  assert.deepEqual(report.ids, native);
  assert.equal(report.threads, 2);
  assert.deepEqual(report.pooledIds, native);
}

/** Files under `dir`, relative to it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath ?? d.path, d.name)));
}

test("the browser entry's import graph, workers included, is relative imports only", () => {
  const app = freshApp('graph');
  const pkg = join(app, 'node_modules/rqvae');
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    // Static imports and re-exports, dynamic imports, and the worker script.
    const specifiers = [
      ...code.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm),
      ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]/g),
      ...code.matchAll(/new Worker\(new URL\(['"]([^'"]+)['"], import\.meta\.url\)/g),
    ].map((m) => m[1]);
    assert.ok(!/\bimport\s*\(\s*[^'"\s]/.test(code), `${relative(pkg, file)} has a computed dynamic import`);
    for (const s of specifiers) {
      assert.ok(s.startsWith('./') || s.startsWith('../'), `${relative(pkg, file)} imports ${s}`);
      visit(join(dirname(file), s));
    }
  };
  const { exports } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  visit(join(pkg, exports['.'].default));
  const graph = [...seen].map((f) => relative(pkg, f));
  assert.ok(graph.includes('js/cpu-worker.js') && graph.includes('pkg/rqvae.js'), graph.join(', '));
  assert.ok(!graph.some((f) => f.startsWith('js/node')), `the browser graph reaches ${graph.filter((f) => f.startsWith('js/node'))}`);
});

test('Vite: a fresh app builds, and its page encodes to the native IDs (1 thread and 2 workers)', { timeout: 120_000 }, async () => {
  const app = freshApp('vite');
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src/main.js'), appSource('rqvae'));
  writeFileSync(join(app, 'index.html'), `${HEAD}<script type="module" src="/src/main.js"></script>`);
  await viteBuild({ root: app, configFile: false, logLevel: 'error' });
  const dist = join(app, 'dist');
  const emitted = filesUnder(dist);
  // Each module once (pkg/rqvae.js's own fallback URL for the wasm is the same file): the page
  // fetches one of the RQ-VAE pair, the one its engine runs, and the text module only for text.
  assert.equal(emitted.filter((f) => f.endsWith('.wasm')).length, 3, `Vite emitted the three wasm modules once each: ${emitted}`);
  assert.ok(emitted.some((f) => /default.*\.safetensors$/.test(f)), `Vite emitted the default model: ${emitted}`);
  assert.ok(emitted.some((f) => /minilm-l6-v2\.text.*\.safetensors$/.test(f)), `Vite emitted the text model: ${emitted}`);
  const server = await serveStatic(dist, { '/data/sample.npy': SAMPLE_NPY });
  try {
    assertNativeIds(await run(server, '/index.html', { root: dist, served: ['/data/sample.npy'] }));
  } finally {
    await server.close();
  }
});

test('webpack 5: a fresh app builds for the web, and its page encodes to the native IDs (1 thread and 2 workers)', { timeout: 120_000 }, async () => {
  const app = freshApp('webpack');
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src/index.js'), appSource('rqvae'));
  const dist = join(app, 'dist');
  const stats = await new Promise((resolve, reject) => {
    webpack({
      context: app,
      mode: 'production',
      target: 'web',
      output: { path: dist },
      experiments: { topLevelAwait: true },
    }, (err, result) => (err ? reject(err) : resolve(result)));
  });
  const { errors } = stats.toJson({ all: false, errors: true });
  assert.deepEqual(errors.map((e) => e.message), [], 'webpack builds without errors');
  const emitted = filesUnder(dist);
  assert.equal(emitted.filter((f) => f.endsWith('.wasm')).length, 3, `webpack emitted the three wasm modules once each: ${emitted}`);
  // webpack names assets by hash alone: the model is the emitted file of its size.
  const modelSize = readFileSync(join(app, 'node_modules/rqvae/www/models/default.safetensors')).length;
  assert.ok(emitted.some((f) => readFileSync(join(dist, f)).length === modelSize), `webpack emitted the default model: ${emitted}`);
  writeFileSync(join(dist, 'index.html'), `${HEAD}<script src="main.js"></script>`);
  const server = await serveStatic(dist, { '/data/sample.npy': SAMPLE_NPY });
  try {
    assertNativeIds(await run(server, '/index.html', { root: dist, served: ['/data/sample.npy'] }));
  } finally {
    await server.close();
  }
});

test('Vite dev server: the same app works with no configuration (Vite 8 rewrites the asset URLs it pre-bundles)', { timeout: 120_000 }, async () => {
  const app = freshApp('vite-dev');
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src/main.js'), appSource('rqvae'));
  writeFileSync(join(app, 'index.html'), `${HEAD}<script type="module" src="/src/main.js"></script>`);
  const sample = join(app, 'public/data');
  mkdirSync(sample, { recursive: true });
  writeFileSync(join(sample, 'sample.npy'), readFileSync(SAMPLE_NPY));
  const server = await viteServer({ root: app, configFile: false, logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  try {
    assertNativeIds(await run({ url: server.resolvedUrls.local[0].replace(/\/$/, '') }, '/'));
  } finally {
    await server.close();
  }
});

test('a page on a static host imports the installed package by path: no bundler, no import map (1 thread and 2 workers)', { timeout: 60_000 }, async () => {
  const app = freshApp('plain');
  const pkg = join(app, 'node_modules/rqvae');
  const page = join(app, 'index.html');
  writeFileSync(page, `${HEAD}<script type="module">${appSource('/js/index.js')}</script>`);
  // The server's root is the installed package itself, as when its files are copied to a host.
  const server = await serveStatic(pkg, { '/index.html': page, '/data/sample.npy': SAMPLE_NPY });
  try {
    const result = await run(server, '/index.html', { root: pkg, served: ['/index.html', '/data/sample.npy'] });
    assertNativeIds(result);
    assert.ok(result.requests.includes('/js/cpu-worker.js'), 'the workers load js/cpu-worker.js');
    assert.ok(!result.requests.some((p) => p.startsWith('/js/node')), `Node.js modules reach the page: ${result.requests}`);
  } finally {
    await server.close();
  }
});

test('self-hosted assets: initWasm({ wasm }) and loadDefault({ url }) load from there only; what is missing rejects with ERR_FETCH', { timeout: 60_000 }, async () => {
  const app = freshApp('self-hosted');
  const pkg = join(app, 'node_modules/rqvae');
  const page = join(app, 'index.html');
  writeFileSync(page, `${HEAD}<script type="module">
    import { Encoder, initWasm, readNpy } from '/js/index.js';
    const report = {};
    const code = (promise) => promise.then(() => 'resolved', (e) => \`\${e.name} \${e.code}\`);
    try {
      report.missingWasm = await code(initWasm({ wasm: '/static/missing.wasm' }));
      // A failed load can be retried from elsewhere; once loaded, another source is refused.
      await initWasm({ wasm: new URL('/static/engine.wasm', location.href) });
      report.otherWasm = await code(initWasm({ wasm: '/static/other.wasm' }));
      report.missingModel = await code(Encoder.loadDefault({ url: '/static/missing.safetensors' }));
      report.badSource = await code(Encoder.load(42));
      const { data } = await readNpy(new Uint8Array(await (await fetch('/data/sample.npy')).arrayBuffer()));
      const rows = data.subarray(0, ${ROWS} * 768);
      const single = await Encoder.load(await fetch('/static/model.safetensors'));
      report.ids = Array.from(await single.encode(rows));
      report.backend = single.backend;
      const pooled = await Encoder.loadDefault({ url: '/static/model.safetensors', threads: 2 });
      report.pooledIds = Array.from(await pooled.encode(rows, { batchSize: 25 }));
      report.threads = pooled.threads;
    } catch (e) {
      report.error = \`\${e.name} \${e.code}: \${e.message}\`;
    }
    window.report = report;
  </script>`);
  const extra = {
    '/index.html': page,
    '/data/sample.npy': SAMPLE_NPY,
    '/static/engine.wasm': join(pkg, 'pkg/rqvae_bg.wasm'),
    '/static/model.safetensors': join(pkg, 'www/models/default.safetensors'),
  };
  const server = await serveStatic(pkg, extra);
  try {
    const result = await run(server, '/index.html', { root: pkg, served: Object.keys(extra) });
    const absent = ['/static/missing.wasm', '/static/missing.safetensors'];
    assert.deepEqual(result.missing, absent);
    assert.deepEqual(result.failed, absent);
    assertNativeIds({ ...result, missing: [], failed: [] });
    assert.equal(result.report.missingWasm, 'RqvaeError ERR_FETCH');
    assert.equal(result.report.otherWasm, 'RqvaeError ERR_OPTION');
    assert.equal(result.report.missingModel, 'RqvaeError ERR_FETCH');
    assert.equal(result.report.badSource, 'RqvaeError ERR_INPUT');
    for (const own of ['/pkg/rqvae_bg.wasm', '/pkg/rqvae_relaxed_bg.wasm', '/www/models/default.safetensors']) {
      assert.ok(!result.requests.includes(own), `the page fetched the package's own ${own}`);
    }
  } finally {
    await server.close();
  }
});
