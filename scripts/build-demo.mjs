#!/usr/bin/env node
// Builds the web demo as plain static files in dist/ (no bundler):
//   dist/index.html, app.js, worker.js, parse.js, stats.js, style.css   from www/demo/
//   dist/js/index.js                  the package API (js/index.js; default model path rewritten)
//   dist/js/cpu-pool.js, cpu-worker.js, checks.js, id-table.js, adapter.js, errors.js  its other modules
//   dist/pkg/rqvae.js, rqvae_bg.wasm  the wasm-bindgen build (run `npm run build` first)
//   dist/models/default.safetensors   the default model
//   dist/sample/…                     the shipped sample (www/sample/)
//   dist/vendor/d3-hierarchy.mjs      d3-hierarchy's ESM build, with its licence
//
// Usage: node scripts/build-demo.mjs [--out dist]

import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist') } } });
const OUT = resolve(values.out);

function need(path, hint) {
  if (!existsSync(path)) {
    console.error(`build-demo: missing ${path}${hint ? `: ${hint}` : ''}`);
    process.exit(1);
  }
  return path;
}

const pkgJs = need(join(ROOT, 'pkg/rqvae.js'), 'build the wasm package first (npm run build)');
const pkgWasm = need(join(ROOT, 'pkg/rqvae_bg.wasm'), 'build the wasm package first (npm run build)');
const model = need(join(ROOT, 'www/models/default.safetensors'));
const require = createRequire(import.meta.url);
let d3Dir;
try {
  d3Dir = dirname(dirname(require.resolve('d3-hierarchy')));
} catch {
  console.error('build-demo: d3-hierarchy is not installed (npm install)');
  process.exit(1);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

cpSync(join(ROOT, 'www/demo'), OUT, { recursive: true });
cpSync(join(ROOT, 'www/sample'), join(OUT, 'sample'), { recursive: true });
mkdirSync(join(OUT, 'models'));
cpSync(model, join(OUT, 'models/default.safetensors'));
mkdirSync(join(OUT, 'pkg'));
cpSync(pkgJs, join(OUT, 'pkg/rqvae.js'));
cpSync(pkgWasm, join(OUT, 'pkg/rqvae_bg.wasm'));

// The package API, with the default model's path moved from ../www/models/ to ../models/.
const api = readFileSync(join(ROOT, 'js/index.js'), 'utf8');
const from = "'../www/models/default.safetensors'";
if (!api.includes(from)) {
  console.error(`build-demo: js/index.js no longer mentions ${from}; update the rewrite in scripts/build-demo.mjs`);
  process.exit(1);
}
mkdirSync(join(OUT, 'js'));
writeFileSync(join(OUT, 'js/index.js'), api.replaceAll(from, "'../models/default.safetensors'"));
// The modules js/index.js imports: its CPU worker pool (whose worker loads ../pkg/rqvae.js, as
// here), the shared input checks and the ID table.
for (const f of ['cpu-pool.js', 'cpu-worker.js', 'checks.js', 'id-table.js', 'adapter.js', 'errors.js']) cpSync(join(ROOT, 'js', f), join(OUT, 'js', f));

mkdirSync(join(OUT, 'vendor'));
cpSync(need(join(d3Dir, 'dist/d3-hierarchy.mjs')), join(OUT, 'vendor/d3-hierarchy.mjs'));
cpSync(need(join(d3Dir, 'LICENSE')), join(OUT, 'vendor/d3-hierarchy.LICENSE'));

let bytes = 0;
let files = 0;
const walk = (dir) => {
  for (const name of require('node:fs').readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else {
      files += 1;
      bytes += statSync(p).size;
    }
  }
};
walk(OUT);
console.log(`build-demo: wrote ${files} files (${(bytes / 1e6).toFixed(1)} MB) to ${OUT}`);
