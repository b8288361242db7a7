// Shared helpers of the JavaScript tests: paths, the native reference IDs, a static file server.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

// The test data, named in one place. Every behaviour is tested on the sample the repository ships
// (`www/sample`: the catalog's first 3,000 items) or on data a test makes; the few checks about the
// full 16,859-item catalog itself read it from the folder RQVAE_TEST_DATA names and are skipped,
// by name and with that reason, where it is not set.

/** The shipped sample: float16 [3000, 768], and `{"id", "title"}` per line. */
export const SAMPLE_F16_NPY = join(ROOT, 'www/sample/games-3000.f16.npy');
export const SAMPLE_JSONL = join(ROOT, 'www/sample/games-3000.jsonl');
export const SAMPLE_ROWS = 3000;
export const DEFAULT_MODEL = join(ROOT, 'www/models/default.safetensors');

/** The variable naming the folder that holds the full catalog. */
export const FULL_DATA_VAR = 'RQVAE_TEST_DATA';
const FULL_DATA = process.env[FULL_DATA_VAR];

/** A file of the full catalog, or null where RQVAE_TEST_DATA is not set. */
export function dataPath(name) {
  if (!FULL_DATA) return null;
  const path = resolve(FULL_DATA, name);
  if (!existsSync(path)) throw new Error(`${FULL_DATA_VAR} names ${FULL_DATA}, which has no ${name}`);
  return path;
}

/**
 * What Hugging Face tokenizers and sentence-transformers give for the texts of
 * tests/fixtures/minilm-reference.json: `{ texts, tokenIds, dim, embeddings }` (scripts/text-reference.py).
 */
export function textReference() {
  const json = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/minilm-reference.json'), 'utf8'));
  const bytes = Buffer.from(json.embeddings_f32_base64, 'base64');
  const embeddings = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { texts: json.texts, tokenIds: json.token_ids, dim: json.dim, embeddings };
}

/** The full catalog's float16 embeddings [16859, 768], or null. */
export const CATALOG_NPY = dataPath('embeddings_all-mpnet-base-v2_768d.f16.npy');
/** `{ skip }` for a check that needs the full catalog: the reason node:test prints beside its name. */
export const NEEDS_CATALOG = CATALOG_NPY ? {} : { skip: `needs the full catalog: set ${FULL_DATA_VAR}` };

/** A float16 bit pattern as the float32 it widens to exactly. */
function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The sample's first `rows` rows, widened to float32, as a Float32Array. */
export function sampleRows(rows = SAMPLE_ROWS) {
  if (rows > SAMPLE_ROWS) throw new Error(`the sample has ${SAMPLE_ROWS} rows, ${rows} asked for`);
  const bytes = readFileSync(SAMPLE_F16_NPY);
  const headerEnd = bytes.indexOf(0x0a) + 1;
  const halves = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length));
  const out = new Float32Array(rows * 768);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(halves[i]);
  return out;
}

/** Writes `path` atomically unless it exists, so test processes running at once share it. */
function writeOnce(path, make) {
  if (existsSync(path)) return path;
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, make());
  renameSync(partial, path);
  return path;
}

const SCRATCH = join(tmpdir(), 'rqvae-test-data');
mkdirSync(SCRATCH, { recursive: true });
const SAMPLE_DIGEST = createHash('sha256').update(readFileSync(SAMPLE_F16_NPY)).digest('hex').slice(0, 12);

/** The sample's first 2,000 rows as a float32 .npy: the input most tests hand the package and the CLI. */
export const SAMPLE_NPY = writeOnce(join(SCRATCH, `sample-2000-${SAMPLE_DIGEST}.f32.npy`), () => npyBytes(sampleRows(2000), 2000, 768));

export function trainerBin() {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  return join(targetDir, 'release', 'rqvae-train');
}

/** Parses an int32 .npy written by `rqvae-train encode` into a flat array. */
function readIdsNpy(path) {
  const bytes = readFileSync(path);
  const headerEnd = bytes.indexOf(0x0a) + 1;
  const header = bytes.subarray(0, headerEnd).toString('latin1');
  if (!header.includes("'<i4'")) throw new Error(`unexpected ids dtype in ${header}`);
  return Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length)));
}

/** IDs of `npyPath` under `model`, computed natively by `rqvae-train encode`. */
export function nativeIds(npyPath = SAMPLE_NPY, model = DEFAULT_MODEL) {
  return nativeEncode(npyPath, model, { recon: false }).ids;
}

/** IDs and decoder reconstructions (flat Float32Array) from `rqvae-train encode --recon`. */
export function nativeEncode(npyPath = SAMPLE_NPY, model = DEFAULT_MODEL, { recon = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-native-'));
  const out = join(dir, 'ids.npy');
  const reconPath = join(dir, 'recon.npy');
  const args = ['encode', '--model', model, '--embeddings', npyPath, '--out', out];
  if (recon) args.push('--recon', reconPath);
  execFileSync(trainerBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (!recon) return { ids: readIdsNpy(out) };
  const bytes = readFileSync(reconPath);
  const headerEnd = bytes.indexOf(0x0a) + 1;
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length));
  return { ids: readIdsNpy(out), recon: values };
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.npy': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.jsonl': 'application/x-ndjson',
  '.png': 'image/png',
};

/**
 * Serves `root` (and `extra` virtual paths → files) on 127.0.0.1 at a free port. Records every
 * request path, so tests can assert what the page fetched.
 */
export async function serveStatic(root, extra = {}) {
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push(path);
    const file = extra[path] ?? normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!extra[path] && !file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** Options for Debian's Chromium, headless, WebGPU on a software adapter, no background traffic. */
export function chromiumOptions() {
  return {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  };
}

/** The first 2,000 lines of the sample's items: the rows of SAMPLE_NPY. */
export const SAMPLE_ITEMS = writeOnce(join(SCRATCH, `sample-2000-${SAMPLE_DIGEST}.jsonl`),
  () => readFileSync(SAMPLE_JSONL, 'utf8').split('\n').slice(0, 2000).join('\n') + '\n');

/** Runs `rqvae-train assign` and returns the table's text (and the exports asked for). */
export function nativeAssign({ npy = SAMPLE_NPY, items = SAMPLE_ITEMS, model = DEFAULT_MODEL, existing } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-assign-'));
  const out = join(dir, 'table.jsonl');
  const csv = join(dir, 'table.csv');
  const lcrec = join(dir, 'table.json');
  const args = ['assign', '--model', model, '--embeddings', npy, '--out', out, '--csv', csv, '--lcrec', lcrec];
  if (items) args.push('--items', items);
  if (existing) args.push('--existing', existing);
  execFileSync(trainerBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    jsonl: readFileSync(out, 'utf8'),
    csv: readFileSync(csv, 'utf8'),
    lcrec: readFileSync(lcrec, 'utf8'),
  };
}

/** Item ids of an items file (JSON Lines with an "id" per line). */
export function itemIds(path = SAMPLE_ITEMS) {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line).id);
}

/** A float32 .npy of `rows × dim` values, for handing constructed inputs to the CLI. */
export function npyBytes(values, rows, dim) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + values.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 10 + header.length);
  return out;
}

/** Weights bytes in the package's format (`.safetensors`, F32) for a config and named tensors. */
export function safetensorsBytes(config, tensors) {
  const header = {
    __metadata__: { format: 'rqvae', format_version: '1', config: JSON.stringify(config) },
  };
  let offset = 0;
  for (const [name, shape, values] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + values.byteLength] };
    offset += values.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const [, , values] of tensors) {
    out.set(new Uint8Array(values.buffer), at);
    at += values.byteLength;
  }
  return out;
}

/**
 * `normalize(x + 2.5·u)` of every row, `u` the unit vector of alternating signs: an anisotropic
 * copy of embeddings, as E5, BGE or GTE give them (random pairs at cosine about 0.9).
 */
export function shiftedRows(values, dim) {
  const out = new Float32Array(values.length);
  const u = 2.5 / Math.sqrt(dim);
  for (let r = 0; r < values.length / dim; r++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = values[r * dim + j] + (j % 2 === 0 ? u : -u);
      out[r * dim + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[r * dim + j] /= norm;
  }
  return out;
}

/**
 * A model that centres its inputs (weights format version 2), as a user gets one: `rqvae-train
 * train` on the shifted copy of the sample's 2,000 rows (which `auto` centres), then `export
 * --f16`. `{ model, npy }`: the model file and the shifted rows' float32 .npy.
 */
export function centredModel() {
  const npy = writeOnce(join(SCRATCH, `shifted-2000-${SAMPLE_DIGEST}.f32.npy`),
    () => npyBytes(shiftedRows(sampleRows(2000), 768), 2000, 768));
  // Trained afresh by each caller (seconds): a file kept from an older build would test that build.
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-centred-'));
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] };
  execFileSync(trainerBin(), ['train', '--embeddings', npy, '--out', join(dir, 'run'),
    '--recipe', 'semantic-ids', '--epochs', '5', '--eval-queries', '100'], quiet);
  const model = join(dir, 'model.safetensors');
  execFileSync(trainerBin(), ['export', '--run', join(dir, 'run'), '--out', model, '--f16'], quiet);
  return { model, npy };
}

/**
 * A model built so that its decisions tie, and inputs that hit the ties. The encoder is the
 * identity (so the latent is the input, exactly, on every backend). Level 0 holds pairs of codes
 * `z ± v`, equidistant from `z` in exact arithmetic, so only rounding decides between them;
 * level 1 holds the zero vector twice (codes 3 and 15), an exact tie for every small residual.
 * Rows 0–7 are the pair centres `z`, rows 8–15 the centres nudged by one part in 10⁷.
 */
export function nearTieModel() {
  const dim = 32;
  const codes = 16;
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const identity = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) identity[i * dim + i] = 1;
  const level0 = new Float32Array(codes * dim);
  const centres = new Float32Array(8 * dim);
  for (let p = 0; p < 8; p++) {
    for (let d = 0; d < dim; d++) {
      const z = 0.1 + 0.9 * random();
      const v = (random() - 0.5) * 2e-3;
      centres[p * dim + d] = z;
      level0[2 * p * dim + d] = z + v;
      level0[(2 * p + 1) * dim + d] = z - v;
    }
  }
  const level1 = new Float32Array(codes * dim);
  for (let c = 0; c < codes; c++) {
    if (c === 3 || c === 15) continue;
    for (let d = 0; d < dim; d++) level1[c * dim + d] = (random() - 0.5) * 0.5;
  }
  const rows = new Float32Array(16 * dim);
  rows.set(centres);
  for (let i = 0; i < 8 * dim; i++) rows[8 * dim + i] = centres[i] * (1 + (random() - 0.5) * 2e-7);
  const config = { input_dim: dim, hidden_dims: [dim], latent_dim: dim, levels: 2, codebook_size: codes };
  const weights = safetensorsBytes(config, [
    ['encoder.layers.0.weight', [dim, dim], identity],
    ['encoder.layers.0.bias', [dim], new Float32Array(dim)],
    ['encoder.layers.1.weight', [dim, dim], identity],
    ['encoder.layers.1.bias', [dim], new Float32Array(dim)],
    ['quantizer.codebooks.0', [codes, dim], level0],
    ['quantizer.codebooks.1', [codes, dim], level1],
  ]);
  return { weights, rows, dim };
}

/** Native IDs (`rqvae-train encode`) of the near-tie model's rows. */
export function nativeNearTieIds({ weights, rows, dim }) {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-ties-'));
  const model = join(dir, 'ties.safetensors');
  const npy = join(dir, 'ties.npy');
  writeFileSync(model, weights);
  writeFileSync(npy, npyBytes(rows, rows.length / dim, dim));
  return nativeIds(npy, model);
}

/** The records of CSV text (RFC 4180 quoting), each an array of fields. */
export function csvRows(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

/**
 * A maker of temporary directories that remembers them: `make(name)` creates one,
 * `removeAll()` (in an `after` hook) deletes them all.
 */
export function temporaryDirs() {
  const made = [];
  return {
    make(name) {
      const dir = mkdtempSync(join(tmpdir(), `rqvae-${name}-`));
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
