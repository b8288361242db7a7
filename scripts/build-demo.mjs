#!/usr/bin/env node
// Builds the web demo as plain static files in dist/ (no bundler):
//   dist/index.html, app.js, worker.js, …, style.css   from www/demo/
//   dist/js/                          the package's modules, all of js/ as it is (the demo
//                                     imports js/index.js, the browser entry)
//   dist/pkg/rqvae.js, rqvae_bg.wasm, rqvae_relaxed_bg.wasm  the wasm-bindgen build (run `npm run build` first)
//   dist/pkg/rqvae_text.js, rqvae_text_bg.wasm                the text module (the same build)
//   dist/models/default.safetensors   the default model
//   dist/models/minilm.safetensors, minilm-l6-v2.text.safetensors  the model for titles and the text model
//   dist/sample/…                     the shipped sample (www/sample/)
//   dist/vendor/d3-hierarchy.mjs      d3-hierarchy's ESM build, with its licence
//
// Usage: node scripts/build-demo.mjs [--out dist]

import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
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
const pkgRelaxedWasm = need(join(ROOT, 'pkg/rqvae_relaxed_bg.wasm'), 'build the wasm package first (npm run build)');
const pkgTextJs = need(join(ROOT, 'pkg/rqvae_text.js'), 'build the wasm package first (npm run build)');
const pkgTextWasm = need(join(ROOT, 'pkg/rqvae_text_bg.wasm'), 'build the wasm package first (npm run build)');
const model = need(join(ROOT, 'www/models/default.safetensors'));
const miniLm = need(join(ROOT, 'www/models/minilm.safetensors'));
const textModel = need(join(ROOT, 'www/models/minilm-l6-v2.text.safetensors'), 'npm run build writes it (scripts/text-bundle.mjs)');
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
cpSync(miniLm, join(OUT, 'models/minilm.safetensors'));
cpSync(textModel, join(OUT, 'models/minilm-l6-v2.text.safetensors'));
mkdirSync(join(OUT, 'pkg'));
cpSync(pkgJs, join(OUT, 'pkg/rqvae.js'));
cpSync(pkgWasm, join(OUT, 'pkg/rqvae_bg.wasm'));
cpSync(pkgRelaxedWasm, join(OUT, 'pkg/rqvae_relaxed_bg.wasm'));
cpSync(pkgTextJs, join(OUT, 'pkg/rqvae_text.js'));
cpSync(pkgTextWasm, join(OUT, 'pkg/rqvae_text_bg.wasm'));

// All of js/, whatever modules it holds: js/index.js's graph is relative imports only, so it runs
// from these static files as it is. The demo's worker fetches the model from models/ itself; the
// package's own default-model URL (../www/models/, unused here) needs no rewriting.
cpSync(join(ROOT, 'js'), join(OUT, 'js'), { recursive: true });

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
