// Fuzzing of the package's streaming readers (js/readers/: .npy, CSV, JSON Lines embeddings, and
// items files of ids and titles), which the demo uses, in Node.js, within a fixed time budget.
// Inputs: hand-written edge cases, then mutations of valid files (bit flips, truncation,
// insertion of tokens that matter to the format, header edits, …). Property: every input either
// parses into a consistent result (batches of whole rows that follow each other, rows, dim and
// data agree, every value is finite, one id and one title per row) or is refused with an
// RqvaeError of a reader's codes whose message names the file; never another error, never a
// hang. Every file is read whole and again in random-size chunks (tiny ones mostly) and random
// batch sizes, which must give exactly what one chunk gives; an .npy is also read as a stream
// of unknown length, which may find another problem first but must agree on whether it parses.
//
// The seed is random unless FUZZ_SEED is set; it is printed, and a failure names the seed and the
// case and writes the input to test-artifacts/fuzz/. FUZZ_MS sets the budget (default 6,000 ms).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RqvaeError, readEmbeddings, readItems } from '../../js/node.js';
import { ROOT } from './fixtures.mjs';

const BUDGET_MS = Number(process.env.FUZZ_MS ?? 6000);
const SEED = process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32);
const CASE_TIMEOUT_MS = 10_000;

/** mulberry32: a small PRNG whose whole state is one 32-bit seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The PRNG of one case: depends on the seed, the format and the case number only. */
function caseRng(format, i) {
  return prng(Math.imul(SEED ^ Math.imul(i + 1, 0x9e3779b1), 31) + format.length * 7919 + format.charCodeAt(0));
}

const utf8 = (s) => new TextEncoder().encode(s);
const pick = (rng, list) => list[Math.floor(rng() * list.length)];
const int = (rng, n) => Math.floor(rng() * n);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `bytes` as a ReadableStream of chunks of `nextSize()` bytes (the length unknown to a reader). */
function streamOf(bytes, nextSize) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const n = nextSize();
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// .npy inputs

/** .npy bytes from parts that mutations edit: header fields, version, padding, data. */
function npyBytes({ descr = '<f4', fortran = 'False', shape, version = 1, pad = 0, headerLen, data, header }) {
  let text = header ?? `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const lenBytes = version === 1 ? 2 : 4;
  text += ' '.repeat(Math.max(0, 63 - ((8 + lenBytes + text.length) % 64)) + pad) + '\n';
  const head = new Uint8Array(8 + lenBytes);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  const len = headerLen ?? text.length;
  if (lenBytes === 2) view.setUint16(8, len & 0xffff, true);
  else view.setUint32(8, len >>> 0, true);
  return concat(head, new Uint8Array([...text].map((c) => c.charCodeAt(0) & 0xff)), data);
}

const f32Bytes = (values) => new Uint8Array(Float32Array.from(values).buffer);
const f16Bytes = (bits) => new Uint8Array(Uint16Array.from(bits).buffer);

function npySeeds() {
  return [
    { shape: '(3, 4)', data: f32Bytes(Array.from({ length: 12 }, (_, i) => Math.sin(i) / 3)) },
    // float16 edges: ±0, the smallest and largest subnormals, the largest finite value
    { descr: '<f2', shape: '(2, 3)', data: f16Bytes([0x0000, 0x8000, 0x0001, 0x03ff, 0x8001, 0x7bff]) },
    { version: 2, shape: '(1, 1)', data: f32Bytes([0.5]) },
    { version: 3, shape: '(2, 2)', data: f32Bytes([1, -1, 1e-40, -0]) }, // a float32 subnormal
    // An odd header length: the data does not start on a 4-byte boundary.
    { shape: '(2, 2)', pad: 1, data: f32Bytes([1, 2, 3, 4]) },
  ];
}

const SHAPES = [
  '()', '(3,)', '(1, 2, 3)', '(0, 4)', '(4, 0)', '(-1, 4)', '(-1, -4)', '(2, -2)', '(4294967296, 1)',
  '(65536, 65536)', '(2147483648, 2)', '(4294967297, 4294967297)', '(9007199254740993, 1)',
  '(1e3, 4)', '(0x10, 4)', '(3, 4L)', '(3 , 4 , )', '(3, 4', '3, 4', '(1.5, 2)', '(NaN, 1)', '(Infinity, 1)',
];
const DESCRS = ['<f4', '<f2', '>f4', '<f8', '|u1', '<i4', '|f2', 'f4', '<f4 ', ''];

/** A header edit: another shape, dtype, order, version, length field, or data length. */
function editNpy(rng, spec) {
  const s = { ...spec };
  const what = int(rng, 8);
  if (what === 0) s.shape = pick(rng, SHAPES);
  else if (what === 1) s.shape = `(${int(rng, 5) - 1}, ${int(rng, 6) - 1})`;
  else if (what === 2) s.descr = pick(rng, DESCRS);
  else if (what === 3) s.fortran = pick(rng, ['True', 'false', '1', 'None']);
  else if (what === 4) s.version = pick(rng, [0, 1, 2, 3, 4, 255]);
  else if (what === 5) s.headerLen = pick(rng, [0, 1, 9, 0xffff, 0xffffffff, int(rng, 200)]);
  else if (what === 6) s.pad = int(rng, 70_000);
  else {
    const n = s.data.length;
    s.data = rng() < 0.5 ? s.data.slice(0, int(rng, n + 1)) : concat(s.data, new Uint8Array(1 + int(rng, 8)));
  }
  return s;
}

function npyEdgeCases() {
  const nan = f32Bytes([1, NaN, 2, 3]);
  const inf = f32Bytes([1, 2, -Infinity, 3]);
  return [
    new Uint8Array(0),
    new Uint8Array([0x93, 0x4e, 0x55]),
    new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]),
    new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0xff]),
    npyBytes({ shape: '(2, 2)', data: nan }),
    npyBytes({ shape: '(2, 2)', data: inf }),
    npyBytes({ descr: '<f2', shape: '(1, 2)', data: f16Bytes([0x3c00, 0x7e00]) }), // f16 NaN
    npyBytes({ descr: '<f2', shape: '(1, 2)', data: f16Bytes([0xfc00, 0x3c00]) }), // f16 -Inf
    npyBytes({ shape: '(65536, 65536)', data: f32Bytes([1, 2, 3, 4]) }), // 2^32 values
    npyBytes({ shape: '(4294967297, 1)', data: f32Bytes([1]) }),
    npyBytes({ descr: '<f2', shape: '(2147483648, 2)', data: f16Bytes([1, 2, 3, 4]) }),
    npyBytes({ shape: '(-1, -4)', data: f32Bytes([1, 2, 3, 4]) }), // the product is positive
    npyBytes({ shape: '(-2, -2)', data: f32Bytes([1, 2, 3, 4]) }),
    npyBytes({ shape: '(2, 2)', pad: 60_000, data: f32Bytes([1, 2, 3, 4]) }), // a huge header
    npyBytes({ version: 2, shape: '(1, 1)', pad: 200_000, data: f32Bytes([1]) }),
    npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 'é€'}", data: f32Bytes([1]) }),
  ];
}

function npyCase(rng, i, edges) {
  if (i < edges.length) return edges[i];
  let spec = pick(rng, npySeeds());
  const edits = int(rng, 3);
  for (let k = 0; k < edits; k++) spec = editNpy(rng, spec);
  return byteMutations(rng, npyBytes(spec), [], int(rng, 3));
}

// ---------------------------------------------------------------------------------------------
// Text inputs

const CSV_SEEDS = [
  'id,title,e0,e1,e2\n1,"Mario Kart, ""Deluxe""",0.1,-0.2,3e-3\n2,Zelda,1,2,3\n',
  'id,title,0,1,2\nsku-1,Alpha,0.5,0.25,1\nsku-2,Beta,-1,0,1\n', // pandas, index=False
  ',title,0,1,2\n0,Alpha,0.5,0.25,1\n1,Beta,-1,0,1\n', // pandas, unnamed index
  'id,0,1,2\na,0.5,0.25,1\nb,-1,0,1\n', // pandas, no title
  'a,Alpha,0.5,0.25,1\r\nb,"Be\r\nta",0.125,0,1\r\n',
  '\uFEFFid,title,x,y\n1,"=SUM(A1)",1,2\n',
  '1,0.5,0.25\n2,-0.5,1e-3',
];
const CSV_TOKENS = [',', '"', '""', '\n', '\r\n', '\r', 'NaN', '-inf', 'Infinity', '1e39', '-0', ' ', '\uFEFF',
  'title', '0', '1', 'é', '😀', '\t', '=', 'id', '', '0x10', '1e-50'];

function csvEdgeCases() {
  const wide = Array.from({ length: 50_000 }, (_, i) => i);
  return [
    '', '\uFEFF', '\r\n', '\n\n\n', ',', '"', '""', '"unclosed\n1,2', 'id,title\n', 'id\n1\n', 'id,title,0,1\n',
    'a,NaN\n', 'a,1e39,1\n', 'a,-Infinity,1\n', 'a,1,\n', 'a,"1"x,2\n', 'a,b"c,1\n', ',1,2\n', 'a\tb,1,2\n',
    `id,title,${wide.join(',')}\n`, // a huge header, no rows
    `id,${wide.join(',')}\nx,${wide.map(() => 0.5).join(',')}\n`, // a huge pandas header and one row
    'x,0\n', // a one-column vector whose value is 0: data, not a pandas header
    'id,title,0,1\r\n"a,b","t""q",0.1,0.2\r\n',
    '\uFEFF\uFEFFa,1,2\n',
  ].map(utf8);
}

const JSONL_SEEDS = [
  '{"id":"a","title":"Alpha","embedding":[0.1,-0.2,0.3]}\n{"id":2,"embedding":[1,2,3]}\n',
  '\uFEFF{"id":1,"title":"x","embedding":[1e-45,0,-0]}\r\n{"id":"b","title":null,"embedding":[3.4e38,1,2]}\r\n',
  '{"id":"é😀","title":"\\u0000","embedding":[1]}\n\n{"id":-1,"embedding":[2]}',
];
const TITLES_SEEDS = [
  '{"id":1,"title":"One"}\n{"id":"b"}\n{"id":3,"title":7}\n',
  '\uFEFF{"id":"x","title":"=cmd"}\r\n{"id":"y","title":"+1"}\r\n',
];
const JSON_TOKENS = ['NaN', 'Infinity', '-Infinity', '1e39', '1e400', '-1e400', 'null', '[]', '{}', '"', ',', ']', '}',
  '[', '{', ':', '\n', '\r\n', '"embedding":[1]', '"id":', 'true', '1.5', '-0', '\uFEFF', '\\u', '😀'];

function jsonlEdgeCases() {
  return [
    '', '\uFEFF', '\n', 'null', '[1]', '"s"', '{}', '{"id":null,"embedding":[1]}', '{"id":1}', '{"id":1,"title":"t"}',
    '{"id":1,"embedding":[]}', '{"id":1,"embedding":[NaN]}', '{"id":1,"embedding":[1e39]}', '{"id":1e400,"embedding":[1]}',
    '{"id":1,"embedding":["1"]}', '{"id":1,"embedding":[1]}\n{"id":2,"embedding":[1,2]}', '{"id":1,"embedding":[1]',
    `{"id":1,"embedding":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, // nesting deep enough to overflow a recursive parser
    '{"id":1,"embedding":[1],"__proto__":{"id":2}}',
    '\uFEFF\uFEFF{"id":1,"title":"t","embedding":[1]}\n', // a second BOM: found by this fuzzer
  ].map(utf8);
}

/** 1–4 random edits of `bytes`: flips, overwrites, insertions of format tokens, cuts, splices. */
function byteMutations(rng, bytes, tokens, count = 1 + int(rng, 4)) {
  let b = bytes;
  for (let k = 0; k < count; k++) {
    const at = int(rng, b.length + 1);
    const what = int(rng, tokens.length ? 7 : 5);
    if (what === 0 && b.length) {
      b = b.slice();
      b[Math.min(at, b.length - 1)] ^= 1 << int(rng, 8);
    } else if (what === 1 && b.length) {
      b = b.slice();
      b[Math.min(at, b.length - 1)] = pick(rng, [0, 0xff, 0x80, 0x22, 0x2c, 0x0a, 0x0d, 0x2d, 0x2e, 0x65, 0x4e]);
    } else if (what === 2) {
      b = b.slice(0, at); // truncation
    } else if (what === 3) {
      const end = Math.min(b.length, at + 1 + int(rng, 16));
      b = concat(b.slice(0, at), b.slice(end)); // a deleted range
    } else if (what === 4) {
      const len = int(rng, 32);
      b = concat(b.slice(0, at), b.slice(at, at + len), b.slice(at)); // a repeated range
    } else {
      b = concat(b.slice(0, at), utf8(pick(rng, tokens)), b.slice(at));
    }
  }
  return b;
}

function textCase(rng, i, edges, seeds, tokens) {
  if (i < edges.length) return edges[i];
  let b = utf8(pick(rng, seeds));
  if (rng() < 0.1) b = concat(b, utf8(pick(rng, seeds))); // two files glued together
  return byteMutations(rng, b, tokens);
}

// ---------------------------------------------------------------------------------------------
// The property

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const CODES = new Set(['ERR_NPY', 'ERR_TOO_LARGE', 'ERR_INPUT', 'ERR_DIMENSION', 'ERR_NON_FINITE']);

function checkRefusal(e, name) {
  if (!(e instanceof RqvaeError)) throw new Error(`not an RqvaeError but ${e?.name}: ${e?.message}\n${e?.stack}`);
  assert.ok(CODES.has(e.code), `code ${e.code}: ${e.message}`);
  assert.ok(e.message.startsWith(`${name}: `) && e.message.length > name.length + 2, `the message does not name the file: ${e.message}`);
}

/** Every batch of `readEmbeddings`, checked and joined into one result. */
async function readAll(source, options) {
  const batches = [];
  for await (const b of readEmbeddings(source, options)) batches.push(b);
  assert.ok(batches.length > 0, 'a parse without rows');
  const { dim, dtype } = batches[0];
  let next = 0;
  for (const b of batches) {
    assert.equal(b.start, next, 'batches follow each other');
    assert.ok(b.count >= 1 && b.count <= (options.batchRows ?? 4096), `a batch of ${b.count} rows`);
    assert.equal(b.rows.length, b.count * dim, `${b.rows.length} values for ${b.count} rows of ${dim}`);
    assert.deepEqual([b.dim, b.dtype], [dim, dtype], 'every batch has the same shape');
    next += b.count;
  }
  const data = new (dtype === 'float16' ? Uint16Array : Float32Array)(next * dim);
  for (const b of batches) data.set(b.rows, b.start * dim);
  const result = { rows: next, dim, dtype, data };
  if (batches[0].ids) {
    result.ids = batches.flatMap((b) => b.ids);
    result.titles = batches.flatMap((b) => b.titles);
  }
  return result;
}

function checkVectors({ rows, dim, dtype, data }) {
  assert.ok(Number.isSafeInteger(rows) && rows >= 1, `rows ${rows}`);
  assert.ok(Number.isSafeInteger(dim) && dim >= 1, `dim ${dim}`);
  assert.equal(data.length, rows * dim, `data holds ${data.length} values for ${rows} × ${dim}`);
  if (dtype === 'float16') {
    assert.ok(data instanceof Uint16Array, 'float16 data is bit patterns');
    const bad = data.findIndex((h) => (h & 0x7c00) === 0x7c00);
    assert.equal(bad, -1, `float16 value ${bad} is NaN or infinite`);
  } else {
    assert.equal(dtype, 'float32');
    assert.ok(data instanceof Float32Array, 'float32 data');
    const bad = data.findIndex((v) => !Number.isFinite(v));
    assert.equal(bad, -1, `value ${bad} is ${data[bad]}`);
  }
}

/** One id and one title per row; ids are strings (CSV: not empty) or finite numbers (JSON). */
function checkIdsAndTitles({ ids, titles }, rows, { csv = false } = {}) {
  assert.equal(ids.length, rows, `${ids.length} ids for ${rows} rows`);
  assert.equal(titles.length, rows, `${titles.length} titles for ${rows} rows`);
  for (const id of ids) {
    const ok = csv ? typeof id === 'string' && id !== '' : typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    assert.ok(ok, `id ${JSON.stringify(id) ?? String(id)}`);
  }
  assert.ok(titles.every((t) => typeof t === 'string'), 'titles are strings');
}

/** The outcome of `read()`: `{ result }`, or `{ refused }` with the message of a proper refusal. */
async function outcome(name, read, check) {
  try {
    const result = await read();
    check(result);
    return { result };
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    checkRefusal(e, name);
    return { refused: e.message };
  }
}

// Mostly tiny chunks: they split rows, characters, \r\n pairs, quotes, the BOM and the header.
const randomSize = (rng) => () => 1 + int(rng, rng() < 0.8 ? 8 : 4096);

/**
 * Reads `bytes` whole (bytes: the size known) and in random chunks with random batch sizes, which
 * must agree exactly; `extra` adds reads that must agree on parsing alone.
 */
async function readBoth(name, bytes, rng, format, check, extra = []) {
  const dim = rng() < 0.2 ? (format === 'npy' ? 4 : 3) : undefined;
  const batchRows = 1 + int(rng, 5);
  const whole = await outcome(name, () => readAll(bytes, { format, name, dim }), check);
  const chunked = await outcome(name, () => readAll(streamOf(bytes, randomSize(rng)), {
    format, name, dim, batchRows, size: bytes.length,
  }), check);
  assert.deepEqual(chunked, whole, 'reading in random chunks changed the outcome');
  for (const read of extra) {
    const other = await outcome(name, () => read({ format, name, dim, batchRows }), check);
    assert.equal(Boolean(other.result), Boolean(whole.result), `one read parsed, the other refused: ${other.refused ?? whole.refused}`);
    if (other.result) assert.deepEqual(other, whole);
  }
  return whole;
}

const FORMATS = {
  npy: {
    edges: npyEdgeCases(),
    input: (rng, i) => npyCase(rng, i, FORMATS.npy.edges),
    // Also as a stream whose length is only known at its end (the size check comes last then).
    parse: (name, bytes, rng) => readBoth(name, bytes, rng, 'npy', checkVectors,
      [(options) => readAll(streamOf(bytes, randomSize(rng)), options)]),
  },
  csv: {
    edges: csvEdgeCases(),
    input: (rng, i) => textCase(rng, i, FORMATS.csv.edges, CSV_SEEDS, CSV_TOKENS),
    parse: (name, bytes, rng) => readBoth(name, bytes, rng, 'csv', (r) => {
      checkVectors(r);
      checkIdsAndTitles(r, r.rows, { csv: true });
    }),
  },
  jsonl: {
    edges: jsonlEdgeCases(),
    input: (rng, i) => textCase(rng, i, FORMATS.jsonl.edges, JSONL_SEEDS, JSON_TOKENS),
    parse: (name, bytes, rng) => readBoth(name, bytes, rng, 'jsonl', (r) => {
      checkVectors(r);
      checkIdsAndTitles(r, r.rows);
    }),
  },
  titles: {
    edges: jsonlEdgeCases(),
    input: (rng, i) => textCase(rng, i, FORMATS.titles.edges, TITLES_SEEDS, JSON_TOKENS),
    async parse(name, bytes, rng) {
      const expectedRows = rng() < 0.5 ? 3 : undefined;
      const check = (r) => {
        checkIdsAndTitles(r, r.ids.length);
        assert.ok(r.ids.length >= 1);
        if (expectedRows != null) assert.equal(r.ids.length, expectedRows);
      };
      const whole = await outcome(name, () => readItems(bytes, { name, expectedRows }), check);
      const chunked = await outcome(name, () => readItems(streamOf(bytes, randomSize(rng)), { name, expectedRows }), check);
      assert.deepEqual(chunked, whole, 'reading in random chunks changed the outcome');
      return whole;
    },
  },
};

test(`readers: fuzzed .npy, CSV, JSON Lines and items files parse consistently or are refused with an RqvaeError (seed ${SEED})`, { timeout: BUDGET_MS + 120_000 }, async (t) => {
  const deadline = Date.now() + BUDGET_MS;
  const counts = Object.fromEntries(Object.keys(FORMATS).map((f) => [f, 0]));
  const parsed = { ...counts };
  const names = Object.keys(FORMATS);
  // Every edge case runs, whatever the budget; then mutations until the budget is spent.
  const edgeCount = Math.max(...names.map((f) => FORMATS[f].edges.length));
  for (let i = 0; i < edgeCount || Date.now() < deadline; i++) {
    for (const format of names) {
      const rng = caseRng(format, i);
      const bytes = FORMATS[format].input(rng, i);
      const name = `case-${i}.${format === 'titles' ? 'jsonl' : format}`;
      try {
        const result = await withTimeout(FORMATS[format].parse(name, bytes, rng), name);
        if (result.result) parsed[format] += 1;
      } catch (e) {
        const dir = join(ROOT, 'test-artifacts/fuzz');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `seed-${SEED}-${format}-case-${i}.bin`);
        writeFileSync(file, bytes);
        throw new Error(`FUZZ_SEED=${SEED}, ${format} case ${i} (input in ${file}): ${e.message}`, { cause: e });
      }
      counts[format] += 1;
    }
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  t.diagnostic(`fuzz seed ${SEED}: ${total} cases in ${BUDGET_MS} ms; parsed/all: ${names.map((f) => `${f} ${parsed[f]}/${counts[f]}`).join(', ')}`);
  // Mutations that only ever produce refusals would test the error paths alone.
  for (const f of names) assert.ok(parsed[f] > 0, `no ${f} case parsed`);
});

// Crashes and inconsistencies the fuzzer found, each pinned to the message it now gives.
test('fuzz findings: negative .npy sizes, ids past a double, a second BOM split across chunks', async () => {
  const four = f32Bytes([1, 2, 3, 4]);
  // (-1, -4) has a positive product: the demo's old reader read it as -1 rows of -4 values. The
  // Rust header reader takes sizes as unsigned integers only.
  for (const shape of ['(-1, -4)', '(-2, -2)', '(1e1, 4)', '(0x2, 2)']) {
    await assert.rejects(readAll(npyBytes({ shape, data: four }), { format: 'npy', name: 'neg.npy' }), {
      name: 'RqvaeError',
      code: 'ERR_NPY',
      message: `neg.npy: malformed .npy header "{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }": 'shape' holds a non-integer`,
    });
  }
  await assert.rejects(readAll(utf8('{"id":1e400,"embedding":[1]}\n'), { format: 'jsonl', name: 'big.jsonl' }), {
    code: 'ERR_INPUT',
    message: 'big.jsonl: line 1: the id is a number too large for a double; write it as a string',
  });
  await assert.rejects(readItems(utf8('{"id":-1e400}\n'), { name: 'big.jsonl' }), { code: 'ERR_INPUT', message: /^big\.jsonl: line 1: the id is a number too large/ });
  // The decoder drops the first BOM; a second one was dropped too, unless the first chunk ended
  // inside the BOM's three bytes.
  const twoBoms = utf8('\uFEFF\uFEFF{"id":1,"title":"t","embedding":[1]}\n');
  const whole = await readAll(twoBoms, { format: 'jsonl', name: 'bom.jsonl' });
  const byteAtATime = await readAll(streamOf(twoBoms, () => 1), { format: 'jsonl', name: 'bom.jsonl' });
  assert.deepEqual(byteAtATime, whole);
  assert.deepEqual(whole.ids, [1]);
});
