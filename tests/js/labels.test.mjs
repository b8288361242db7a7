// Prefix labels and an editor's names through the npm package: every prefix labelled from the
// titles, names saved in a labels file that comes back with the table and is refused for another
// model's table, selection by prefix, and bad input as RqvaeErrors with their codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Encoder, IdTable, RqvaeError, prefixLabels, readNpy } from '../../js/node.js';
import { SAMPLE_ITEMS, SAMPLE_NPY, itemIds } from './fixtures.mjs';

const sample = await readNpy(readFileSync(SAMPLE_NPY));
const ids = itemIds();
const titles = readFileSync(SAMPLE_ITEMS, 'utf8').trim().split('\n').map((line) => JSON.parse(line).title);

async function sampleTable() {
  const encoder = await Encoder.loadDefault();
  const { table } = await IdTable.assign(encoder, sample.data, { ids });
  encoder.free();
  return table;
}

test('every prefix of every level gets a label from its titles, and the counts add up', async () => {
  const table = await sampleTable();
  const entries = table.entries();
  const labels = table.prefixLabels(titles);
  for (const depth of [1, 2, 3]) {
    const level = labels.filter((l) => l.prefix.length === depth);
    const prefixes = new Set(entries.map((e) => e.codes.slice(0, depth).join('/')));
    assert.deepEqual(new Set(level.map((l) => l.key)), prefixes, `level ${depth}: one label per prefix`);
    assert.equal(level.reduce((n, l) => n + l.items, 0), entries.length);
  }
  // Level A: every prefix named, by at most 2 terms drawn from its own titles.
  for (const l of labels.filter((l) => l.prefix.length === 1)) {
    assert.ok(l.terms.length >= 1 && l.terms.length <= 2, `${l.key}: ${JSON.stringify(l.terms)}`);
    assert.equal(l.label, l.terms.join(' · '));
    const own = table.selectPrefix(l.prefix);
    assert.equal(own.length, l.items);
    // Terms drop apostrophes inside words ("Plankton's" gives "planktons").
    const words = [...own].map((i) => titles[i].toLowerCase().replace(/['’]/g, '')).join(' ');
    for (const t of l.terms) assert.ok(words.includes(t), `${l.key}: "${t}" is in its titles`);
    assert.equal(l.name, null);
  }
  table.free();
});

test('prefixLabels on codes gives what the table gives for its own tuples', async () => {
  const table = await sampleTable();
  const tuples = Uint32Array.from(table.entries().flatMap((e) => e.codes.slice(0, 3)));
  const names = { [table.entries()[0].codes[0]]: 'First' };
  assert.deepEqual(
    await prefixLabels(tuples, { levels: 3, titles, names }),
    table.prefixLabels(titles, { names }),
  );
  await assert.rejects(prefixLabels(tuples.subarray(1), { levels: 3, titles }), (e) => e.code === 'ERR_INPUT' && /5999 codes are not whole items of 3 levels/.test(e.message));
  await assert.rejects(prefixLabels(tuples, { levels: 0, titles }), (e) => e.code === 'ERR_OPTION');
  table.free();
});

test('titles missing for some items: labels come from the rest', async () => {
  const table = await sampleTable();
  const some = titles.map((t, i) => (i % 3 === 0 ? null : i % 3 === 1 ? '' : t));
  const labels = table.prefixLabels(some, { terms: 1 });
  const levelA = labels.filter((l) => l.prefix.length === 1);
  const titled = levelA.reduce((n, l) => n + l.titled, 0);
  assert.equal(titled, some.filter((t) => t).length);
  assert.ok(levelA.filter((l) => l.titled > 0).every((l) => l.terms.length === 1));
  assert.ok(levelA.filter((l) => l.titled === 0).every((l) => l.label === ''));
  table.free();
});

test('an editor\'s names survive the labels file and a reload of the table', async () => {
  const table = await sampleTable();
  const [first] = table.prefixLabels(titles);
  const names = new Map([[first.key, '  My shelf '], [`${first.key}/0`, 'Sub-shelf']]);
  const file = table.labelsFile(names);
  const reloaded = await IdTable.load(table.toJsonl());
  const back = reloaded.readLabels(file);
  assert.deepEqual([...back], [[first.key, 'My shelf'], [`${first.key}/0`, 'Sub-shelf']]);
  const named = reloaded.prefixLabels(titles, { names: back });
  assert.equal(named.find((l) => l.key === first.key).name, 'My shelf');
  assert.equal(named.find((l) => l.key === first.key).label, first.label, 'the automatic label stays beside the name');
  assert.equal(JSON.parse(file).model, table.header.model);
  reloaded.free();
  table.free();
});

test('selectPrefix gives the positions of the entries under a prefix, by codes or by key', async () => {
  const table = await sampleTable();
  const entries = table.entries();
  const [a, b] = entries[5].codes;
  const expected = entries.flatMap((e, i) => (e.codes[0] === a && e.codes[1] === b ? [i] : []));
  assert.deepEqual([...table.selectPrefix([a, b])], expected);
  assert.deepEqual([...table.selectPrefix(`${a}/${b}`)], expected);
  table.free();
});

test('bad labels input is refused with a code and a message that names the problem', async () => {
  const table = await sampleTable();
  const code = (code, pattern) => (e) => e instanceof RqvaeError && e.code === code && pattern.test(e.message);
  assert.throws(() => table.prefixLabels(titles.slice(1)), code('ERR_INPUT', /1999 titles for 2000 items/));
  assert.throws(() => table.prefixLabels([...titles.slice(1), 7]), code('ERR_INPUT', /titles\[1999\] is number/));
  assert.throws(() => table.prefixLabels(titles, { terms: 0 }), code('ERR_OPTION', /terms must be a positive integer/));
  assert.throws(() => table.selectPrefix([1, 2, 3, 4]), code('ERR_INPUT', /a prefix has 1 to 3 codes, found 4/));
  assert.throws(() => table.selectPrefix([]), code('ERR_INPUT', /prefix must be one or more codes/));
  assert.throws(() => table.labelsFile({ 51: '   ' }), code('ERR_LABELS', /prefix "51" has an empty name/));
  assert.throws(() => table.labelsFile({ 'x/1': 'A' }), code('ERR_LABELS', /prefix key "x\/1"/));
  assert.throws(() => table.labelsFile({ 51: 3 }), code('ERR_LABELS', /the name of prefix "51" is number/));
  const file = table.labelsFile({ 51: 'Castlevania' });
  const other = file.replace(table.header.model, 'another-model');
  assert.throws(() => table.readLabels(other), code('ERR_MODEL_MISMATCH', new RegExp(`model another-model, but this table's model is ${table.header.model}`)));
  assert.throws(() => table.readLabels('{"format": "rqvae-labels"'), code('ERR_LABELS', /not a labels file/));
  assert.throws(() => table.readLabels(table.toJsonl()), code('ERR_LABELS', /not a labels file/));
  table.free();
});
