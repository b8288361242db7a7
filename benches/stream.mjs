// The package's streamed path against its in-memory one, in the same run on the same file:
// throughput and peak resident memory of `encodeStream(encoder, fs.createReadStream(file))`
// and of `readNpy(readFileSync(file))` + `encode`, each in a fresh Node.js process, plus the
// native `rqvae-train encode` (which streams too) as a reference. The file is the shipped sample's
// rows tiled to --rows rows of 768-d float16, generated into a temporary directory.
//
//   node benches/stream.mjs [--rows 200000] [--threads 1] [--runs 3] [--json out.json]
//
// Needs `npm run build` (pkg/) and a release `rqvae-train` (CARGO_TARGET_DIR or ./target).
// The in-memory side needs the whole float32 matrix in wasm memory, so it is capped well below
// a million rows (readNpy refuses larger files with ERR_TOO_LARGE); the streamed side is not.

import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL, ROOT, SAMPLE_F16_NPY, trainerBin } from '../tests/js/fixtures.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const ROWS = Number(args.rows ?? 200_000);
const THREADS = Number(args.threads ?? 1);
const RUNS = Number(args.runs ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The sample's rows tiled to `rows` rows, written header first and then in 16 MiB pieces. */
function tiledNpy(path, rows) {
  const source = readFileSync(SAMPLE_F16_NPY);
  const headerLen = source.readUInt16LE(8);
  const body = source.subarray(10 + headerLen);
  const rowBytes = 768 * 2;
  const have = body.length / rowBytes;
  let header = `{'descr': '<f2', 'fortran_order': False, 'shape': (${rows}, 768), }`;
  header = header.padEnd(64 * Math.ceil((10 + header.length + 1) / 64) - 10 - 1, ' ') + '\n';
  const fd = openSync(path, 'w');
  const start = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(start);
  start[6] = 1;
  start.writeUInt16LE(header.length, 8);
  writeSync(fd, start);
  writeSync(fd, Buffer.from(header, 'latin1'));
  const piece = Buffer.alloc(rowBytes * 10_000);
  for (let r = 0; r < rows; r += 10_000) {
    const n = Math.min(10_000, rows - r);
    for (let i = 0; i < n; i++) body.copy(piece, i * rowBytes, ((r + i) % have) * rowBytes, ((r + i) % have + 1) * rowBytes);
    writeSync(fd, piece.subarray(0, n * rowBytes));
  }
  closeSync(fd);
}

function child(mode, file) {
  const out = execFileSync(process.execPath, [join(ROOT, 'benches/stream-child.mjs'), mode, DEFAULT_MODEL, file, String(THREADS)], {
    encoding: 'utf8', maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

// GNU time reports the native binary's peak; without it (Debian package `time`) it is left out.
const TIME = existsSync('/usr/bin/time') ? "/usr/bin/time -f 'maxrss=%M'" : '';

function native(file) {
  const out = execFileSync('bash', ['-c',
    `${TIME} "${trainerBin()}" encode --model "${DEFAULT_MODEL}" --embeddings "${file}" --out "${file}.ids.npy" 2>&1 >/dev/null`,
  ], { encoding: 'utf8' });
  return {
    rate: Number(out.match(/\(([\d.]+) items\/s\)/)[1]),
    maxRSS: Number(out.match(/maxrss=(\d+)/)?.[1] ?? NaN) * 1024,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'rqvae-stream-bench-'));
try {
  const file = join(dir, `tiled-${ROWS}.f16.npy`);
  tiledNpy(file, ROWS);
  const sides = { memory: [], stream: [] };
  const nativeRuns = [];
  // Interleaved, so that a slow spell of the machine falls on both sides alike.
  for (let r = 0; r < RUNS; r++) {
    for (const mode of ['memory', 'stream']) sides[mode].push(child(mode, file));
    nativeRuns.push(native(file));
  }
  const summary = {};
  for (const [mode, runs] of Object.entries(sides)) {
    const digests = new Set(runs.map((x) => x.ids));
    summary[mode] = {
      itemsPerSecond: Math.round(median(runs.map((x) => x.rows / x.seconds))),
      peakMB: Math.round(Math.max(...runs.map((x) => x.maxRSS)) / 2 ** 20),
      digests: [...digests],
    };
  }
  const nat = { itemsPerSecond: median(nativeRuns.map((x) => x.rate)), peakMB: Math.round(Math.max(...nativeRuns.map((x) => x.maxRSS)) / 2 ** 20) };
  const same = summary.memory.digests.length === 1 && summary.stream.digests.length === 1
    && summary.memory.digests[0] === summary.stream.digests[0];
  const result = {
    cpu: cpus()[0]?.model, rows: ROWS, fileMB: Math.round(statSync(file).size / 2 ** 20), threads: THREADS, runs: RUNS,
    inMemory: summary.memory, streamed: summary.stream, native: nat,
    streamedOverInMemory: Number((summary.stream.itemsPerSecond / summary.memory.itemsPerSecond).toFixed(2)),
    identicalIds: same,
  };
  console.log(`${result.cpu}; ${ROWS} rows × 768 float16 (${result.fileMB} MB); ${THREADS} thread(s); median of ${RUNS}`);
  console.log('path                         items/s   peak RSS');
  console.log(`in memory (readNpy+encode)  ${String(summary.memory.itemsPerSecond).padStart(8)}   ${summary.memory.peakMB} MB`);
  console.log(`streamed (encodeStream)     ${String(summary.stream.itemsPerSecond).padStart(8)}   ${summary.stream.peakMB} MB`);
  console.log(`native rqvae-train encode   ${String(Math.round(nat.itemsPerSecond)).padStart(8)}   ${nat.peakMB} MB`);
  console.log(`streamed / in memory: ${result.streamedOverInMemory}×; IDs identical: ${same}`);
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
  if (!same) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
