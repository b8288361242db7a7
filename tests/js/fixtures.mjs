// Shared helpers of the JavaScript tests: paths, the native reference IDs, a static file server.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DATA = resolve(ROOT, '../shared/data');
export const SAMPLE_NPY = join(DATA, 'sample_2000.f32.npy');
export const DEFAULT_MODEL = join(ROOT, 'www/models/default.safetensors');

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
  return nativeEncode(npyPath, model).ids;
}

/** IDs and decoder reconstructions (flat Float32Array) from `rqvae-train encode --recon`. */
export function nativeEncode(npyPath = SAMPLE_NPY, model = DEFAULT_MODEL) {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-native-'));
  const out = join(dir, 'ids.npy');
  const recon = join(dir, 'recon.npy');
  execFileSync(
    trainerBin(),
    ['encode', '--model', model, '--embeddings', npyPath, '--out', out, '--recon', recon],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const bytes = readFileSync(recon);
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
