#!/usr/bin/env node
// Writes the web demo's sample: the first N items of the catalog (the folder --data names, by
// default the one RQVAE_TEST_DATA names) as
//   www/sample/games-N.f16.npy  (float16, [N, 768]: a slice of the full .npy, header rewritten)
//   www/sample/games-N.jsonl    ({"id", "title"} per line, row i = line i)
//
// Usage: node scripts/make-sample.mjs [--rows 3000] [--data DIR] [--out www/sample]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '3000' },
    data: { type: 'string', default: process.env.RQVAE_TEST_DATA },
    out: { type: 'string', default: join(ROOT, 'www/sample') },
  },
});
if (!values.data) throw new Error('--data DIR (or RQVAE_TEST_DATA) must name the folder holding catalog.jsonl and its embeddings');
const rows = Number(values.rows);
if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows must be a positive integer, got ${values.rows}`);

const npyPath = join(values.data, 'embeddings_all-mpnet-base-v2_768d.f16.npy');
const catalogPath = join(values.data, 'catalog.jsonl');

/** Header of a version 1 or 2 .npy file: dtype, shape, and where the data starts. */
function npyHeader(bytes, path) {
  if (bytes.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = bytes[6];
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = 8 + lenBytes;
  const header = bytes.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(\s*(\d+)\s*,\s*(\d+)\s*,?\s*\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${path}: unexpected header ${header.trim()}`);
  if (fortran !== 'False') throw new Error(`${path}: Fortran order is not supported`);
  return { descr, rows: Number(shape[1]), dim: Number(shape[2]), dataStart: start + headerLen };
}

/** A version 1 .npy header for a C-order 2-D array, padded so the data starts at a multiple of 64. */
function makeHeader(descr, n, dim) {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${n}, ${dim}), }`;
  const unpadded = 10 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const text = dict + ' '.repeat(padded - unpadded) + '\n';
  const out = Buffer.alloc(10 + text.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(text.length, 8);
  out.write(text, 10, 'latin1');
  return out;
}

const bytes = readFileSync(npyPath);
const head = npyHeader(bytes, npyPath);
if (head.descr !== '<f2') throw new Error(`${npyPath}: expected float16 ('<f2'), got '${head.descr}'`);
if (rows > head.rows) throw new Error(`--rows ${rows} exceeds the ${head.rows} rows of ${npyPath}`);
const rowBytes = head.dim * 2;
const data = bytes.subarray(head.dataStart, head.dataStart + rows * rowBytes);
if (data.length !== rows * rowBytes) throw new Error(`${npyPath}: truncated`);

const lines = readFileSync(catalogPath, 'utf8').split('\n').filter((l) => l.length > 0);
if (lines.length !== head.rows) {
  throw new Error(`${catalogPath} has ${lines.length} lines but ${npyPath} has ${head.rows} rows`);
}
const meta = lines.slice(0, rows).map((line, i) => {
  const { id, title } = JSON.parse(line);
  if (id !== i) throw new Error(`${catalogPath}: line ${i + 1} has id ${id}, expected ${i}`);
  return JSON.stringify({ id, title });
});

mkdirSync(values.out, { recursive: true });
const base = join(values.out, `games-${rows}`);
writeFileSync(`${base}.f16.npy`, Buffer.concat([makeHeader('<f2', rows, head.dim), data]));
writeFileSync(`${base}.jsonl`, `${meta.join('\n')}\n`);
console.log(`wrote ${base}.f16.npy (${rows} × ${head.dim} float16) and ${base}.jsonl`);
