// IdTable in Node.js: the same table, exports and reports as `rqvae-train assign` for the same
// inputs, incremental growth that moves no existing ID, the model check, bad input as rejected
// Promises, and the cross-backend contract on constructed near-ties.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, IdTable, readNpy } from '../../js/node.js';
import {
  DEFAULT_MODEL, SAMPLE_NPY, itemIds, nativeAssign, nativeNearTieIds, nearTieModel, npyBytes,
} from './fixtures.mjs';

const sample = await readNpy(readFileSync(SAMPLE_NPY));
const ids = itemIds();

test('IdTable.assign gives the same table and exports as rqvae-train assign', async () => {
  const native = nativeAssign();
  const encoder = await Encoder.loadDefault();
  const { table, report } = await IdTable.assign(encoder, sample.data, { ids });
  assert.equal(table.toJsonl(), native.jsonl);
  assert.equal(table.toCsv(), native.csv);
  assert.equal(table.toLcRecJson(), native.lcrec);
  assert.equal(report.added, 2000);
  assert.equal(report.uniqueFull, 1);
  assert.ok(report.uniqueNearest < report.uniqueAssigned);
  assert.ok(report.moved > 0);
  assert.ok(report.cost.cosineAssigned > 0.7 && report.cost.cosineNearest >= report.cost.cosineAssigned);
  assert.equal(table.header.model, encoder.fingerprint);
  assert.equal(table.header.resolution, 'reassign');
  const entries = table.entries();
  assert.equal(entries.length, 2000);
  assert.deepEqual(entries.map((e) => e.id), ids);
  const moved = entries.filter((e) => e.reassignedFrom !== null);
  assert.equal(moved.length, report.moved);
  assert.match(entries[0].tokens, /^<a_\d+><b_\d+><c_\d+><d_\d+>$/);
  const q = table.quality();
  assert.equal(q.uniqueFullFraction, 1);
  assert.equal(q.collisionFreeRate, 1);
  assert.equal(q.levels.length, 3);
  assert.ok(q.levels.every((l) => l.gini >= 0 && l.gini < 1 && l.entropyRatio > 0.5 && l.entropyRatio <= 1));
  table.free();
  encoder.free();
});

test('a table grown with new items keeps every existing ID and equals the CLI', async () => {
  const encoder = await Encoder.loadDefault({ threads: 2 });
  const head = sample.data.subarray(0, 1500 * 768);
  const tail = sample.data.subarray(1500 * 768);
  const { table: first } = await IdTable.assign(encoder, head, { ids: ids.slice(0, 1500) });
  const saved = first.toJsonl();
  const loaded = await IdTable.load(new TextEncoder().encode(saved));
  const report = await loaded.add(encoder, tail, { ids: ids.slice(1500) });
  assert.equal(report.added, 500);
  assert.equal(report.kept, 0);
  assert.ok(loaded.toJsonl().startsWith(saved));
  assert.equal(loaded.size, 2000);
  const churn = loaded.churn(first);
  assert.deepEqual(churn, { common: 1500, changed: 0, churn: 0, onlyPrevious: 0, onlyCurrent: 500 });

  // The CLI grows the same saved table to the same result.
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-grow-'));
  writeFileSync(join(dir, 'first.jsonl'), saved);
  writeFileSync(join(dir, 'tail.npy'), npyBytes(tail, 500, 768));
  writeFileSync(join(dir, 'tail.jsonl'), ids.slice(1500).map((id) => JSON.stringify({ id })).join('\n') + '\n');
  const native = nativeAssign({ npy: join(dir, 'tail.npy'), items: join(dir, 'tail.jsonl'), existing: join(dir, 'first.jsonl') });
  assert.equal(loaded.toJsonl(), native.jsonl);

  // Existing ids with other embeddings keep their IDs and are reported.
  const before = loaded.toJsonl();
  const again = await loaded.add(encoder, sample.data.subarray(0, 20 * 768), { ids: ids.slice(100, 120) });
  assert.equal(again.kept, 20);
  assert.ok(again.changed.length > 0);
  assert.equal(loaded.toJsonl(), before);
  first.free();
  loaded.free();
  encoder.free();
});

test('without ids, rows are numbered on from the table size', async () => {
  const encoder = await Encoder.loadDefault();
  const { table } = await IdTable.assign(encoder, sample.data.subarray(0, 10 * 768));
  await table.add(encoder, sample.data.subarray(10 * 768, 15 * 768));
  assert.deepEqual(table.entries().map((e) => e.id), [...Array(15).keys()]);
  const { table: suffix } = await IdTable.assign(encoder, sample.data, { ids, reassign: false });
  assert.equal(suffix.header.resolution, 'suffix');
  assert.equal(suffix.quality().moved, 0);
  assert.ok(suffix.quality().suffixed > 0);
  table.free();
  suffix.free();
  encoder.free();
});

test('a model that differs in one weight cannot grow the table', async () => {
  const bytes = new Uint8Array(readFileSync(DEFAULT_MODEL));
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const [start] = header['encoder.layers.0.weight'].data_offsets;
  const changed = bytes.slice();
  changed[8 + headerLength + start + 10] ^= 0x01; // the low bit of one f16 encoder weight
  const encoder = await Encoder.loadDefault();
  const other = await Encoder.load(changed);
  assert.notEqual(other.fingerprint, encoder.fingerprint);
  const { table } = await IdTable.assign(encoder, sample.data.subarray(0, 100 * 768), { ids: ids.slice(0, 100) });
  const before = table.toJsonl();
  await assert.rejects(
    table.add(other, sample.data.subarray(100 * 768, 200 * 768), { ids: ids.slice(100, 200) }),
    (e) => e instanceof Error && e.message.includes(`the table was made by model ${encoder.fingerprint}, but this model is ${other.fingerprint}`),
  );
  assert.equal(table.toJsonl(), before);
  table.free();
  encoder.free();
  other.free();
});

test('bad input rejects with a message and leaves the table as it was', async () => {
  const encoder = await Encoder.loadDefault();
  const { table } = await IdTable.assign(encoder, sample.data.subarray(0, 10 * 768), { ids: ids.slice(0, 10) });
  const before = table.toJsonl();
  const rows = sample.data.subarray(10 * 768, 13 * 768);
  const cases = [
    [{ ids: ids.slice(10, 12) }, rows, /2 ids for 3 rows/],
    [{ ids: [1, 2, { a: 1 }] }, rows, /ids\[2\] is \{"a":1\}: an id must be a string or a safe integer/],
    [{ ids: [1, 2, 1] }, rows, /id 1 is given to rows 0 and 2/],
    [{ ids: ids.slice(10, 13) }, sample.data.subarray(0, 100), /100 values are not a whole number of rows of dimension 768/],
    [{ ids: 'abc' }, rows, /ids must be an array/],
    [{}, [1, 2, 3], /rows must be a Float32Array/],
  ];
  for (const [options, input, message] of cases) {
    await assert.rejects(table.add(encoder, input, options), message);
  }
  const nan = rows.slice();
  nan[5] = NaN;
  await assert.rejects(table.add(encoder, nan, { ids: ids.slice(10, 13) }), /row 0, column 5 is NaN/);
  assert.equal(table.toJsonl(), before);

  const lines = before.trim().split('\n');
  await assert.rejects(IdTable.load(lines.slice(1).join('\n')), /no line holds the table header/);
  await assert.rejects(IdTable.load(`${before}{"id": 3, "codes": [1, 2, 3, 4]}\n`), /id 3 appears twice: lines 4 and 11/);
  await assert.rejects(IdTable.load(`${before}not json\n`), /line 11: not valid JSON/);
  const freed = await Encoder.loadDefault();
  freed.free();
  await assert.rejects(table.add(freed, rows, { ids: ids.slice(10, 13) }), /encoder must be a loaded Encoder/);
  table.free();
  assert.throws(() => table.size, /this table has been freed/);
  encoder.free();
});

test('near-ties: Node CPU IDs equal native ones on a model built to tie', async () => {
  const model = nearTieModel();
  const native = nativeNearTieIds(model);
  const encoder = await Encoder.load(model.weights, { backend: 'cpu' });
  const ids = Array.from(await encoder.encode(model.rows));
  assert.deepEqual(ids, native);
  // Level 1 is an exact tie between two zero codes: the lower one wins everywhere.
  for (let r = 0; r < ids.length / 2; r++) assert.equal(ids[2 * r + 1], 3, `row ${r}`);
  // The pairs are what the rows choose between.
  for (let r = 0; r < 16; r++) assert.equal(Math.floor(ids[2 * r] / 2), r % 8, `row ${r}`);
  encoder.free();
});
