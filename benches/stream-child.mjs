// One side of benches/stream.mjs, in a process of its own so that its peak memory is its own.
// Encodes one .npy either whole in memory (readNpy, then encode) or streamed (encodeStream from
// fs.createReadStream), and prints one JSON line: rows, seconds, maxRSS (bytes), and a digest of
// the IDs so that the two sides can be compared.
//
// Usage: node benches/stream-child.mjs memory|stream MODEL.safetensors EMBEDDINGS.npy THREADS

import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Encoder, encodeStream, readNpy } from '../js/node.js';

const [mode, model, npy, threads] = process.argv.slice(2);
const encoder = await Encoder.load(readFileSync(model), { backend: 'cpu', threads: Number(threads) });
const digest = createHash('sha256');
const started = performance.now();
let rows = 0;
if (mode === 'memory') {
  const { data } = await readNpy(readFileSync(npy));
  const ids = await encoder.encode(data);
  digest.update(ids);
  rows = ids.length / encoder.config.levels;
} else if (mode === 'stream') {
  for await (const batch of encodeStream(encoder, createReadStream(npy))) {
    digest.update(batch.ids);
    rows += batch.count;
  }
} else {
  throw new Error(`mode must be memory or stream, got ${mode}`);
}
const seconds = (performance.now() - started) / 1000;
encoder.free();
console.log(JSON.stringify({
  mode, rows, seconds, maxRSS: process.resourceUsage().maxRSS * 1024, ids: digest.digest('hex'),
}));
