// Streaming in Node.js (js/stream.js): .npy (float16 and float32), JSON Lines and CSV read in
// chunks from fs.createReadStream (1,000-byte chunks, so rows straddle them), a Blob, a
// ReadableStream and bytes, encoded batch by batch with IDs equal to native `rqvae-train
// encode`; every bad input refused with a code and a message naming the file, row or line; cancel
// and early exit close the file; and a generated 1,000,000 × 768 float16 file (1.5 GB) streamed
// in a child process that stays under 1 GB of memory, with the CLI's IDs.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  Encoder, RqvaeError, codeUsage, encodeStream, readEmbeddings, readItems,
} from '../../js/node.js';
import {
  DEFAULT_MODEL, ROOT, SAMPLE_F16_NPY, SAMPLE_ITEMS, SAMPLE_NPY, SAMPLE_ROWS, nativeIds, trainerBin,
} from './fixtures.mjs';

/** The shipped sample, float16: 3,000 rows. */
const F16_NPY = SAMPLE_F16_NPY;
const tmp = mkdtempSync(join(tmpdir(), 'rqvae-stream-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let encoderPromise;
const encoder = () => {
  encoderPromise ??= Encoder.loadDefault({ backend: 'cpu' });
  return encoderPromise;
};
after(async () => (await encoderPromise)?.free());

/** A .npy header (version 1) for `shape`, `pad` extra spaces making the data offset odd if asked. */
function npyHeader(descr, rows, dim, pad = 0) {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64) + pad);
  const text = `${dict}\n`;
  const out = Buffer.alloc(10 + text.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out.writeUInt16LE(text.length, 8);
  out.write(text, 10, 'latin1');
  return out;
}

/** Every batch of `encodeStream` collected: the IDs in one array and the batches' shapes. */
async function collect(iterable) {
  const ids = [];
  const batches = [];
  const itemIds = [];
  const titles = [];
  for await (const b of iterable) {
    batches.push({ start: b.start, count: b.count });
    for (const v of b.ids) ids.push(v);
    if (b.itemIds) itemIds.push(...b.itemIds);
    if (b.titles) titles.push(...b.titles);
  }
  return { ids, batches, itemIds, titles };
}

function assertContiguous(batches, rows) {
  let next = 0;
  for (const b of batches) {
    assert.equal(b.start, next, 'batches follow each other');
    next += b.count;
  }
  assert.equal(next, rows);
}

function assertSameIds(got, native) {
  assert.equal(got.length, native.length);
  const bad = [];
  for (let i = 0; i < native.length && bad.length < 5; i++) if (got[i] !== native[i]) bad.push(i);
  assert.deepEqual(bad, [], 'positions whose IDs differ from native');
}

let f16Native;
let sampleNative;

test('float16 .npy from fs.createReadStream in 1,000-byte chunks: every row straddling, IDs equal native', async () => {
  f16Native ??= nativeIds(F16_NPY);
  const enc = await encoder();
  const progress = [];
  const stream = createReadStream(F16_NPY, { highWaterMark: 1000 });
  const got = await collect(encodeStream(enc, stream, {
    batchRows: 700,
    onProgress: (p) => progress.push(p),
  }));
  assertContiguous(got.batches, SAMPLE_ROWS);
  assert.equal(got.batches.length, 5);
  assertSameIds(got.ids, f16Native);
  const last = progress.at(-1);
  assert.deepEqual([last.rowsDone, last.totalRows, last.bytesRead, last.totalBytes], [SAMPLE_ROWS, SAMPLE_ROWS, statSync(F16_NPY).size, undefined]);
  assert.ok(progress.every((p, i) => i === 0 || (p.rowsDone > progress[i - 1].rowsDone && p.bytesRead >= progress[i - 1].bytesRead)));
  assert.equal(stream.destroyed, true, 'the file is closed');
});

test('float32 .npy from a Blob, a ReadableStream, bytes and an odd data offset: IDs equal native', async () => {
  sampleNative ??= nativeIds(SAMPLE_NPY);
  const enc = await encoder();
  const bytes = readFileSync(SAMPLE_NPY);
  const fromBlob = await collect(encodeStream(enc, new Blob([bytes]), { name: 'sample.npy', batchRows: 333 }));
  assertContiguous(fromBlob.batches, 2000);
  assertSameIds(fromBlob.ids, sampleNative);
  const web = Readable.toWeb(createReadStream(SAMPLE_NPY, { highWaterMark: 777 }));
  assertSameIds((await collect(encodeStream(enc, web, { format: 'npy' }))).ids, sampleNative);
  assertSameIds((await collect(encodeStream(enc, new Uint8Array(bytes), { format: 'npy', batchRows: 2000 }))).ids, sampleNative);
  // A header one byte longer: the data starts at an odd offset, which no Float32Array can view.
  const dataStart = bytes.indexOf(0x0a) + 1;
  const odd = Buffer.concat([npyHeader('<f4', 2000, 768, 1), bytes.subarray(dataStart)]);
  assert.equal((odd.indexOf(0x0a) + 1) % 4, 1);
  const file = join(tmp, 'odd.npy');
  writeFileSync(file, odd);
  assertSameIds((await collect(encodeStream(enc, createReadStream(file, { highWaterMark: 4096 }), { batchRows: 500 }))).ids, sampleNative);
  assertSameIds((await collect(encodeStream(enc, odd.subarray(0), { format: 'npy', batchRows: 500 }))).ids, sampleNative);
});

test('readEmbeddings hands float16 rows over as their bit patterns, in batches of whole rows', async () => {
  const bytes = readFileSync(F16_NPY);
  const dataStart = bytes.indexOf(0x0a) + 1;
  const expected = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + dataStart, bytes.byteOffset + dataStart + 50 * 768 * 2));
  let header;
  const batches = [];
  for await (const b of readEmbeddings(createReadStream(F16_NPY, { highWaterMark: 1000, end: bytes.length }), {
    batchRows: 20, onHeader: (h) => { header = h; },
  })) {
    batches.push(b);
    if (batches.length === 3) break;
  }
  assert.deepEqual(header, { rows: SAMPLE_ROWS, dim: 768, dtype: 'float16' });
  assert.deepEqual(batches.map((b) => [b.start, b.count, b.dtype, b.rows.constructor.name]), [
    [0, 20, 'float16', 'Uint16Array'], [20, 20, 'float16', 'Uint16Array'], [40, 20, 'float16', 'Uint16Array']]);
  const got = new Uint16Array(50 * 768);
  for (const b of batches) got.set(b.rows.subarray(0, Math.min(b.rows.length, got.length - b.start * 768)), b.start * 768);
  assert.deepEqual(got, expected);
});

/** The sample's rows as JSON Lines and CSV text (shortest round-trip text of each float32). */
function sampleText() {
  const bytes = readFileSync(SAMPLE_NPY);
  const dataStart = bytes.indexOf(0x0a) + 1;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart));
  const items = readFileSync(SAMPLE_ITEMS, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const row = (r) => Array.from(data.subarray(r * 768, (r + 1) * 768));
  const jsonl = items.map((it, r) => JSON.stringify({ id: it.id, title: it.title, embedding: row(r) })).join('\n');
  const quote = (s) => `"${String(s).replace(/"/g, '""')}"`;
  const csv = [['id', 'title', ...Array.from({ length: 768 }, (_, i) => i)].join(','),
    ...items.map((it, r) => [it.id, quote(it.title), ...row(r)].join(','))].join('\r\n');
  return { items, jsonl: `\uFEFF${jsonl}\n`, csv };
}

test('JSON Lines and CSV (pandas header, quoted titles, CRLF, BOM) in 1,000-byte chunks: IDs equal native, ids and titles kept', async () => {
  sampleNative ??= nativeIds(SAMPLE_NPY);
  const enc = await encoder();
  const { items, jsonl, csv } = sampleText();
  for (const [name, text] of [['sample.jsonl', jsonl], ['sample.csv', csv]]) {
    const file = join(tmp, name);
    writeFileSync(file, text);
    const got = await collect(encodeStream(enc, createReadStream(file, { highWaterMark: 1000 }), { batchRows: 300 }));
    assertContiguous(got.batches, 2000);
    assertSameIds(got.ids, sampleNative);
    assert.deepEqual(got.titles, items.map((it) => it.title), name);
    assert.deepEqual(got.itemIds, items.map((it) => (name.endsWith('.csv') ? String(it.id) : it.id)), name);
  }
  // Items files: ids and titles, line i naming row i.
  const itemsFile = await readItems(createReadStream(SAMPLE_ITEMS, { highWaterMark: 100 }), { expectedRows: 2000 });
  assert.deepEqual(itemsFile.ids, items.map((it) => it.id));
  await assert.rejects(readItems(createReadStream(SAMPLE_ITEMS), { expectedRows: 3 }),
    { code: 'ERR_INPUT', message: `${SAMPLE_ITEMS}: it names 2,000 items but the embeddings have 3 rows (line i names row i)` });
});

/** Runs `encodeStream` to its end and returns the rows it yielded before it failed, and the error. */
async function failure(source, options) {
  const enc = await encoder();
  let rows = 0;
  try {
    for await (const b of encodeStream(enc, source, options)) rows += b.count;
  } catch (e) {
    assert.ok(e instanceof RqvaeError, `an RqvaeError, got ${e?.name}: ${e?.message}`);
    return { rows, error: e };
  }
  throw new Error('encodeStream did not fail');
}

test('bad .npy files: truncated, trailing bytes, bad header, wrong dimension, NaN past the first batch', async () => {
  sampleNative ??= nativeIds(SAMPLE_NPY);
  const bytes = readFileSync(SAMPLE_NPY);
  const shape = '[2000, 768]';
  const truncated = bytes.subarray(0, bytes.length - 1000);
  const truncatedMessage = `cut.npy: truncated data: shape ${shape} needs 6144000 bytes after the header, found 6143000`;
  // Its size known (a Blob, or `size`): refused before any row; a stream: at its end.
  let r = await failure(new Blob([truncated]), { name: 'cut.npy' });
  assert.deepEqual([r.rows, r.error.code, r.error.message], [0, 'ERR_NPY', truncatedMessage]);
  r = await failure(Readable.from([truncated]), { name: 'cut.npy', size: truncated.length });
  assert.deepEqual([r.rows, r.error.message], [0, truncatedMessage]);
  r = await failure(Readable.from([truncated]), { name: 'cut.npy', batchRows: 500 });
  assert.deepEqual([r.rows, r.error.code, r.error.message], [1500, 'ERR_NPY', truncatedMessage]);
  const trailing = Buffer.concat([bytes, Buffer.alloc(7)]);
  for (const source of [new Blob([trailing]), Readable.from([trailing])]) {
    r = await failure(source, { name: 'long.npy' });
    assert.deepEqual([r.error.code, r.error.message], ['ERR_NPY', `long.npy: 7 trailing bytes after the data of shape ${shape}`]);
  }
  // Headers: the CLI's messages, from the same reader.
  const header = (descr, s = '(2, 768)') => Buffer.concat([
    Buffer.from(npyHeader(descr, 2, 768).toString('latin1').replace('(2, 768)', s), 'latin1'),
    Buffer.alloc(2 * 768 * 8),
  ]);
  const cases = [
    [Buffer.from('not a numpy file at all'), 'ERR_NPY', 'x.npy: not a .npy file: it does not start with the \\x93NUMPY magic'],
    [Buffer.alloc(0), 'ERR_NPY', 'x.npy: file is empty (0 bytes)'],
    [header('<f8'), 'ERR_NPY', 'x.npy: dtype <f8 is not supported: embeddings must be little-endian float32 (\'<f4\') or float16 (\'<f2\')'],
    [header('<f4', '(2, 768, 1)'), 'ERR_NPY', 'x.npy: array has shape [2, 768, 1]: embeddings must be a 2-D array [items, dim]'],
    [bytes.subarray(0, 60), 'ERR_NPY', /^x\.npy: truncated \.npy header: /],
  ];
  for (const [data, code, message] of cases) {
    for (const source of [new Blob([data]), Readable.from([data])]) {
      r = await failure(source, { name: 'x.npy' });
      assert.equal(r.error.code, code, String(message));
      if (message instanceof RegExp) assert.match(r.error.message, message);
      else assert.equal(r.error.message, message);
    }
  }
  // Float32 is accepted by its numpy name too, as the CLI does (the demo's own reader refused it).
  const numpyName = new Blob([npyHeader('float32', 10, 768), bytes.subarray(128, 128 + 10 * 768 * 4)]);
  assertSameIds((await collect(encodeStream(await encoder(), numpyName, { name: 'f.npy' }))).ids, sampleNative.slice(0, 30));
  // The wrong dimension: refused from the header, before any row.
  const narrow = Buffer.concat([npyHeader('<f4', 4, 384), Buffer.alloc(4 * 384 * 4)]);
  r = await failure(Readable.from([narrow]), { name: 'narrow.npy' });
  assert.deepEqual([r.rows, r.error.code, r.error.message], [0, 'ERR_DIMENSION', 'narrow.npy: embedding dimension is 384 but the model expects 768']);
  // NaN in row 1,234 (the third batch of 500): the message gives the file's row; the batches
  // before it were encoded.
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 128));
  values[1234 * 768 + 7] = NaN;
  values[1600 * 768] = Infinity;
  const withNan = Buffer.concat([npyHeader('<f4', 2000, 768), Buffer.from(values.buffer)]);
  r = await failure(createReadStreamOf(withNan, 'nan.npy'), { batchRows: 500 });
  assert.deepEqual([r.rows, r.error.code], [1000, 'ERR_NON_FINITE']);
  assert.equal(r.error.message, `${join(tmp, 'nan.npy')}: row 1234, column 7 is NaN: embeddings must be finite numbers`);
  values[1234 * 768 + 7] = 0;
  r = await failure(new Blob([npyHeader('<f4', 2000, 768), values]), { name: 'inf.npy', batchRows: 700 });
  assert.deepEqual([r.rows, r.error.message], [1400, 'inf.npy: row 1600, column 0 is inf: embeddings must be finite numbers']);
  // float16 NaN and -inf, by their bit patterns.
  const f16 = new Uint16Array(3 * 768).fill(0x3c00);
  f16[2 * 768 + 5] = 0xfc00;
  r = await failure(new Blob([npyHeader('<f2', 3, 768), f16]), { name: 'h.npy', batchRows: 1 });
  assert.deepEqual([r.rows, r.error.message], [2, 'h.npy: row 2, column 5 is -inf: embeddings must be finite numbers']);
});

function createReadStreamOf(bytes, name) {
  const file = join(tmp, name);
  writeFileSync(file, bytes);
  return createReadStream(file, { highWaterMark: 1000 });
}

test('bad JSON Lines and CSV: the line and what was expected', async () => {
  const row = (n, f = (i) => i / 1000) => Array.from({ length: n }, (_, i) => f(i));
  const lines = (k, bad) => Array.from({ length: k }, (_, r) => (r === bad.at ? bad.line : JSON.stringify({ id: r, embedding: row(768) }))).join('\n');
  const cases = [
    ['a.jsonl', lines(900, { at: 700, line: JSON.stringify({ id: 700, embedding: row(767) }) }), 'ERR_INPUT', 'a.jsonl: ragged rows: line 701 has 767 values but line 1 has 768', 512],
    ['b.jsonl', lines(900, { at: 650, line: `{"id": 650, "embedding": [NaN${',0'.repeat(767)}]}` }), 'ERR_NON_FINITE', 'b.jsonl: line 651 contains NaN or Infinity, which are not numbers (and not valid JSON)', 512],
    ['c.jsonl', lines(3, { at: 1, line: JSON.stringify({ id: 1, embedding: row(768).map((v, i) => (i === 9 ? 1e39 : v)) }) }), 'ERR_NON_FINITE', 'c.jsonl: line 2: embedding[9] = 1e+39 overflows float32', 0],
    ['d.jsonl', JSON.stringify({ id: 1, embedding: row(384) }), 'ERR_DIMENSION', 'd.jsonl: embedding dimension is 384 but the model expects 768', 0],
    ['e.jsonl', `${lines(2, {})}\n${JSON.stringify({ id: 9, embedding: row(768) }).slice(0, 100)}`, 'ERR_INPUT', /^e\.jsonl: line 3 is not valid JSON \(.*\); the file may be truncated$/, 0],
    ['f.jsonl', '', 'ERR_INPUT', 'f.jsonl: the file is empty (0 bytes)', 0],
    ['a.csv', ['id,title,x', ...row(3).map((r) => ['s', 'T', ...row(768)].join(','))].join('\n'), 'ERR_INPUT', 'a.csv: ragged rows: line 2 has 770 fields but the header has 3', 0],
    ['b.csv', Array.from({ length: 600 }, (_, r) => [`s${r}`, ...row(768, (i) => (r === 555 && i === 3 ? 'abc' : i))].join(',')).join('\n'), 'ERR_INPUT', 'b.csv: line 556, column 5 is "abc", not a number', 512],
    ['c.csv', ['7', 'Seven', ...row(768, (i) => (i === 10 ? 'NaN' : 0))].join(','), 'ERR_NON_FINITE', 'c.csv: line 1, column 13 is NaN', 0],
    ['d.csv', ['7', 'Seven', ...row(100)].join(','), 'ERR_DIMENSION', 'd.csv: embedding dimension is 100 but the model expects 768', 0],
    ['e.csv', 'id,title,"unclosed\n1,2', 'ERR_INPUT', 'e.csv: line 1: a quoted field is never closed; the file may be truncated', 0],
  ];
  for (const [name, text, code, message, rowsBefore] of cases) {
    const r = await failure(Readable.from([Buffer.from(text)]), { name, batchRows: 512 });
    assert.equal(r.error.code, code, name);
    if (message instanceof RegExp) assert.match(r.error.message, message);
    else assert.equal(r.error.message, message);
    assert.equal(r.rows, rowsBefore, `${name}: rows encoded before the error`);
  }
});

test('options and sources: the format, bad sources, a failing stream; cancel and early exit close the file', async () => {
  const enc = await encoder();
  let r = await failure(new Uint8Array(10), {});
  assert.deepEqual([r.error.code, r.error.message], ['ERR_OPTION', "the input: cannot tell its format from its name; pass { format: 'npy' | 'jsonl' | 'csv' }"]);
  r = await failure(new Uint8Array(10), { format: 'parquet' });
  assert.equal(r.error.code, 'ERR_OPTION');
  r = await failure(42, { format: 'npy' });
  assert.match(r.error.message, /^the input: a source must be a Blob or File, a ReadableStream/);
  assert.equal(r.error.code, 'ERR_INPUT');
  r = await failure(Readable.from(['text chunks']), { format: 'csv' });
  assert.match(r.error.message, /a chunk of the source is \[object String\], not bytes \(Uint8Array\) \(a text stream/);
  r = await failure(new Uint8Array(10), { format: 'npy', batchRows: 0 });
  assert.equal(r.error.code, 'ERR_OPTION');
  // A source that fails while read: ERR_FETCH, naming it.
  const broken = new ReadableStream({
    start(c) { c.enqueue(readFileSync(SAMPLE_NPY).subarray(0, 100_000)); },
    pull(c) { c.error(new Error('disk on fire')); },
  });
  r = await failure(broken, { name: 'broken.npy' });
  assert.deepEqual([r.error.code, r.error.message], ['ERR_FETCH', 'broken.npy: could not be read (disk on fire)']);

  // Cancel after the first batch: the signal's reason, and the file is closed.
  const controller = new AbortController();
  const stream = createReadStream(F16_NPY, { highWaterMark: 64 * 1024 });
  let batches = 0;
  await assert.rejects((async () => {
    for await (const b of encodeStream(enc, stream, { batchRows: 256, signal: controller.signal })) {
      batches += 1;
      assert.equal(b.count, 256);
      controller.abort();
    }
  })(), { name: 'AbortError' });
  assert.equal(batches, 1);
  await new Promise((ok) => setImmediate(ok));
  assert.equal(stream.destroyed, true, 'cancel closes the file');
  // A reason of the caller's own.
  const c2 = new AbortController();
  c2.abort(new Error('stop'));
  await assert.rejects(collect(encodeStream(enc, new Blob([readFileSync(SAMPLE_NPY)]), { format: 'npy', signal: c2.signal })), { message: 'stop' });
  // Leaving the loop early closes the file too; the encoder stays usable.
  const early = createReadStream(F16_NPY, { highWaterMark: 64 * 1024 });
  for await (const b of encodeStream(enc, early, { batchRows: 100 })) {
    assert.equal(b.start, 0);
    break;
  }
  await new Promise((ok) => setImmediate(ok));
  assert.equal(early.destroyed, true, 'an early exit closes the file');
  sampleNative ??= nativeIds(SAMPLE_NPY);
  assertSameIds((await collect(encodeStream(enc, new Blob([readFileSync(SAMPLE_NPY)]), { format: 'npy' }))).ids, sampleNative);
});

test('codeUsage: the trainer\'s metrics of the IDs', async () => {
  sampleNative ??= nativeIds(SAMPLE_NPY);
  const ids = Uint16Array.from(sampleNative);
  const usage = await codeUsage(ids, { levels: 3, codebookSize: 256 });
  assert.equal(usage.rows, 2000);
  assert.equal(usage.levels.length, 3);
  const distinct = new Set();
  for (let r = 0; r < 2000; r++) distinct.add(`${ids[3 * r]},${ids[3 * r + 1]},${ids[3 * r + 2]}`);
  assert.equal(usage.unique, distinct.size);
  for (let l = 0; l < 3; l++) {
    const counts = new Map();
    for (let r = 0; r < 2000; r++) counts.set(ids[3 * r + l], (counts.get(ids[3 * r + l]) ?? 0) + 1);
    const level = usage.levels[l];
    assert.equal(level.used, counts.size);
    assert.equal(level.dead, 256 - counts.size);
    assert.equal(level.utilisation, counts.size / 256);
    let entropy = 0;
    for (const c of counts.values()) entropy -= (c / 2000) * Math.log(c / 2000);
    assert.ok(Math.abs(level.perplexity - Math.exp(entropy)) < 1e-6 * level.perplexity);
    assert.ok(level.gini > 0 && level.gini < 1 && level.entropyRatio > 0 && level.entropyRatio <= 1);
  }
  await assert.rejects(codeUsage(new Uint16Array([1, 2]), { levels: 3, codebookSize: 256 }), { code: 'ERR_IDS' });
  await assert.rejects(codeUsage(new Uint16Array([1, 2, 300]), { levels: 3, codebookSize: 256 }), { code: 'ERR_ID_RANGE' });
  await assert.rejects(codeUsage([1, 2, 3], { levels: 3, codebookSize: 256 }), { code: 'ERR_INPUT' });
});

test('1,000,000 × 768 float16 (1.5 GB), generated: streamed in under 1 GB of memory, with the CLI\'s IDs', { timeout: 240_000 }, async (t) => {
  const ROWS = 1_000_000;
  const source = readFileSync(F16_NPY);
  const dataStart = source.indexOf(0x0a) + 1;
  const data = source.subarray(dataStart);
  const rowBytes = 768 * 2;
  const tileRows = data.length / rowBytes;
  const file = join(tmp, 'million.f16.npy');
  // Streamed out: the header, then the sample's rows again and again, never the whole file at once.
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, npyHeader('<f2', ROWS, 768));
    for (let written = 0; written < ROWS;) {
      const n = Math.min(tileRows, ROWS - written);
      writeSync(fd, data.subarray(0, n * rowBytes));
      written += n;
    }
  } finally {
    closeSync(fd);
  }
  try {
    const t0 = performance.now();
    const cliOut = join(tmp, 'million-ids.npy');
    execFileSync(trainerBin(), ['encode', '--model', DEFAULT_MODEL, '--embeddings', file, '--out', cliOut], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cliSeconds = (performance.now() - t0) / 1000;
    const out = join(tmp, 'million-ids.u16');
    const child = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'tests/js/stream-memory-child.mjs'), DEFAULT_MODEL, file, out, '2'], { encoding: 'utf8', maxBuffer: 1 << 20 }));
    t.diagnostic(`1,000,000 rows: the package streamed them in ${child.seconds.toFixed(1)} s with a peak RSS of ${(child.maxRSS / 1e6).toFixed(0)} MB; the CLI took ${cliSeconds.toFixed(1)} s`);
    assert.equal(child.rows, ROWS);
    assert.ok(child.maxRSS < 1e9, `peak memory ${(child.maxRSS / 1e6).toFixed(0)} MB`);
    const cli = readFileSync(cliOut);
    const cliIds = new Int32Array(cli.buffer.slice(cli.byteOffset + cli.indexOf(0x0a) + 1, cli.byteOffset + cli.length));
    const ours = readFileSync(out);
    const ids = new Uint16Array(ours.buffer.slice(ours.byteOffset, ours.byteOffset + ours.length));
    assertSameIds(ids, cliIds);
  } finally {
    rmSync(file, { force: true });
  }
});
