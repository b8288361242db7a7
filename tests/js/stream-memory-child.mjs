// Run by tests/js/stream.test.mjs in a child process, so that its peak memory is its own:
// streams one .npy through encodeStream from fs.createReadStream and writes the IDs as raw
// little-endian uint16 to OUT as they come. Prints one JSON line: rows, seconds, maxRSS (bytes).
//
// Usage: node stream-memory-child.mjs MODEL.safetensors EMBEDDINGS.npy OUT.u16 [threads]

import { closeSync, createReadStream, openSync, readFileSync, writeSync } from 'node:fs';
import { Encoder, encodeStream } from '../../js/node.js';

const [model, npy, out, threads = '2'] = process.argv.slice(2);
const t0 = performance.now();
const encoder = await Encoder.load(readFileSync(model), { backend: 'cpu', threads: Number(threads) });
const fd = openSync(out, 'w');
let rows = 0;
let expected = 0;
try {
  for await (const batch of encodeStream(encoder, createReadStream(npy), {
    onHeader: (h) => {
      expected = h.rows;
    },
  })) {
    if (batch.start !== rows) throw new Error(`batch starts at row ${batch.start}, expected ${rows}`);
    writeSync(fd, batch.ids);
    rows += batch.count;
  }
} finally {
  closeSync(fd);
  encoder.free();
}
if (rows !== expected) throw new Error(`${rows} rows encoded, the header says ${expected}`);
console.log(JSON.stringify({
  rows,
  seconds: (performance.now() - t0) / 1000,
  // resourceUsage reports kilobytes; the process's peak, worker threads included.
  maxRSS: process.resourceUsage().maxRSS * 1024,
}));
