// The demo's CSV in Node.js, without a browser: how the package's CSV reader (js/readers/csv.js,
// which the demo uses) tells a header from a row (pandas' numbered headers included), and how
// www/demo/stats.js writes titles that a spreadsheet would run as formulas.
// tests/js/demo.test.mjs drives the same paths in the page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readEmbeddings } from '../../js/node.js';
import { toCsv } from '../../www/demo/stats.js';
import { csvRows } from './fixtures.mjs';

const csvFile = (text) => new Blob([text]);

/** Every row of a CSV source: `{ rows, dim, ids, titles, data }`. */
async function parseCsv(name, source) {
  const out = { rows: 0, dim: 0, ids: [], titles: [], data: [] };
  for await (const b of readEmbeddings(source, { name, batchRows: 1 })) {
    out.rows += b.count;
    out.dim = b.dim;
    out.ids.push(...b.ids);
    out.titles.push(...b.titles);
    out.data.push(...b.rows);
  }
  out.data = Float32Array.from(out.data);
  return out;
}

test('pandas headers (id,title,0,1,… / ,title,0,1,… / id,0,1,…) are headers, not rows', async () => {
  const cases = [
    ['id,title,0,1,2\nsku-1,Alpha,0.5,0.25,1\nsku-2,Beta,-1,0,1\n', ['sku-1', 'sku-2'], ['Alpha', 'Beta']],
    // df.to_csv() with the default unnamed index: the header's first field is empty.
    [',title,0,1,2\r\n0,Alpha,0.5,0.25,1\r\n1,Beta,-1,0,1\r\n', ['0', '1'], ['Alpha', 'Beta']],
    ['id,0,1,2\na,0.5,0.25,1\nb,-1,0,1', ['a', 'b'], ['', '']],
    // Two columns before the 0: the second is the title whatever its name.
    ['item,name,0,1,2\na,Alpha,0.5,0.25,1\n', ['a'], ['Alpha']],
  ];
  for (const [text, ids, titles] of cases) {
    const parsed = await parseCsv('pandas.csv', csvFile(text));
    assert.equal(parsed.rows, ids.length, text);
    assert.equal(parsed.dim, 3, text);
    assert.deepEqual(parsed.ids, ids, text);
    assert.deepEqual(parsed.titles, titles, text);
    assert.deepEqual(Array.from(parsed.data.subarray(0, 3)), [0.5, 0.25, 1], text);
  }
  // The header's width still has to match the rows'.
  await assert.rejects(parseCsv('pandas.csv', csvFile('id,title,0,1\na,A,1,2,3\n')),
    { name: 'RqvaeError', code: 'ERR_INPUT', message: 'pandas.csv: ragged rows: line 2 has 5 fields but the header has 4' });
});

test('rows that only look like part of a pandas header stay rows', async () => {
  // A one-value row whose value is 0: one label is not enough to call it a header.
  const one = await parseCsv('one.csv', csvFile('x,0\ny,1\n'));
  assert.deepEqual(one.ids, ['x', 'y']);
  assert.deepEqual(Array.from(one.data), [0, 1]);
  // Labels out of order: an ordinary row (its id is "id", its title "title").
  const unordered = await parseCsv('rows.csv', csvFile('id,title,0,2,1\n'));
  assert.deepEqual(unordered.ids, ['id']);
  assert.deepEqual(Array.from(unordered.data), [0, 2, 1]);
});

test('CSV export: titles that a spreadsheet would run get a leading quote; ids stay as they are', () => {
  const titles = ['=HYPERLINK("http://x.test","click")', '+1', '-2 dB', '@SUM(A1)', '\tTab', '\rCR', 'Plain, "quoted"', 'two\nlines', ' padded ', '', 'a=b'];
  const itemIds = ['=1+1', '-5', '+7', '@x', 'sku,9', 'p"q', 'id-7', '8', '9', '10', '11'];
  const rows = titles.length;
  const csv = toCsv({
    ids: new Uint16Array(rows * 2),
    levels: 2,
    itemIds,
    titles,
    rows,
    table: { ids: new Uint16Array(rows * 3) },
  });
  const records = csvRows(csv);
  assert.equal(records.length, rows + 1);
  assert.deepEqual(records[0], ['id', 'title', 'A', 'B', 'token', 'semantic_id']);
  for (const r of records) assert.equal(r.length, 6, JSON.stringify(r));
  assert.deepEqual(records.slice(1).map((r) => r[1]), [
    '\'=HYPERLINK("http://x.test","click")', '\'+1', '\'-2 dB', '\'@SUM(A1)', '\'\tTab', '\'\rCR',
    'Plain, "quoted"', 'two\nlines', ' padded ', '', 'a=b',
  ]);
  // Ids are join keys: never prefixed, only quoted where RFC 4180 needs it.
  assert.deepEqual(records.slice(1).map((r) => r[0]), itemIds);
  assert.match(csv, /^"p""q",/m);
  assert.match(csv, /^"sku,9",/m);
  // No title cell of the file itself starts with a formula character.
  for (const r of records.slice(1)) assert.doesNotMatch(r[1], /^[=+\-@\t\r]/);
});
