#!/usr/bin/env node
// A tiny static file server for the built demo: serves dist/ on http://127.0.0.1:8080.
// Usage: node scripts/serve.mjs [--root dist] [--port 8080] [--host 127.0.0.1]   (PORT also works)

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT_DIR = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    root: { type: 'string', default: join(ROOT_DIR, 'dist') },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const root = resolve(values.root);

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.npy': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

try {
  statSync(join(root, 'index.html'));
} catch {
  console.error(`serve: ${root}/index.html not found; run npm run build:demo first`);
  process.exit(1);
}

const server = createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    res.writeHead(400).end('bad request');
    return;
  }
  let file = resolve(root, `.${path}`);
  const rel = relative(root, file);
  if (rel.startsWith('..') || rel.includes(`..${sep}`)) {
    res.writeHead(403).end('forbidden');
    return;
  }
  let stat;
  try {
    stat = statSync(file);
    if (stat.isDirectory()) {
      file = join(file, 'index.html');
      stat = statSync(file);
    }
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  res.writeHead(200, {
    'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': stat.size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // A file that vanishes or cannot be read after its stat must end this response, not the server.
  createReadStream(file)
    .on('error', (e) => {
      console.error(`serve: could not read ${rel}: ${e.message}`);
      res.destroy();
    })
    .pipe(res);
});

const firstPort = Number(values.port);
if (!Number.isInteger(firstPort) || firstPort < 0 || firstPort > 65535) {
  console.error(`serve: port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
  process.exit(1);
}
// A busy port is common (another demo, another server): say so and take the next free one.
const PORTS_TRIED = 20;
let port = firstPort;
server.on('error', (e) => {
  if (e.code === 'EADDRINUSE' && port !== 0 && port < firstPort + PORTS_TRIED - 1 && port < 65535) {
    console.log(`serve: port ${port} on ${values.host} is in use; trying ${port + 1}`);
    port += 1;
    server.listen(port, values.host);
    return;
  }
  const why = e.code === 'EADDRINUSE'
    ? `ports ${firstPort}–${port} on ${values.host} are all in use; choose one with --port or PORT=`
    : e.message;
  console.error(`serve: cannot listen: ${why}`);
  process.exit(1);
});
server.on('listening', () => {
  console.log(`Serving ${root} on http://${values.host}:${server.address().port}/ (Ctrl-C stops)`);
});
server.listen(port, values.host);
