// IdTable's exports for generative recommenders: the same files as `rqvae-train tokens` for the
// same table (the sample's, and one with string ids and disambiguation codes), and bad token
// offsets refused before the wasm module sees them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdTable } from '../../js/node.js';
import { nativeAssign, trainerBin } from './fixtures.mjs';

/** The files `rqvae-train tokens` writes for the table `jsonl`, by name. */
function nativeTokens(jsonl, tokenOffset) {
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-tokens-'));
  writeFileSync(join(dir, 'table.jsonl'), jsonl);
  const out = join(dir, 'out');
  execFileSync(trainerBin(), ['tokens', '--table', join(dir, 'table.jsonl'), '--out', out, '--token-offset', String(tokenOffset)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const read = (name) => readFileSync(join(out, name), 'utf8');
  return {
    vocabulary: read('vocabulary.json'),
    tokens: read('tokens.jsonl'),
    csv: read('tokens.csv'),
    tree: read('prefix-tree.json'),
  };
}

function assertSameAsCli(table, jsonl, tokenOffset) {
  const native = nativeTokens(jsonl, tokenOffset);
  const options = { tokenOffset };
  assert.equal(table.toVocabularyJson(options), native.vocabulary);
  assert.equal(table.toTokensJsonl(options), native.tokens);
  assert.equal(table.toTokensCsv(options), native.csv);
  assert.equal(table.toPrefixTreeJson(options), native.tree);
}

const SMALL = [
  { table: { format: 'rqvae-id-table', version: 1, model: `sha256:${'0'.repeat(63)}1`, levels: 2, codebook_size: 4, resolution: 'suffix' } },
  { id: 7, codes: [1, 2, 0] },
  { id: 'B00X', codes: [1, 2, 1] },
  { id: 'a,"b"', codes: [0, 0, 0] },
  { id: -5, codes: [3, 1, 2] },
].map((line) => JSON.stringify(line)).join('\n') + '\n';

test('the token exports of the sample\'s table are the files rqvae-train tokens writes', async () => {
  const { jsonl } = nativeAssign();
  const table = await IdTable.load(jsonl);
  assertSameAsCli(table, jsonl, 151_643);
  // Without options the offset is 0.
  assert.equal(table.toPrefixTreeJson(), nativeTokens(jsonl, 0).tree);
  const vocabulary = JSON.parse(table.toVocabularyJson({ tokenOffset: 151_643 }));
  assert.equal(vocabulary.format, 'rqvae-vocabulary');
  assert.equal(vocabulary.model, table.header.model);
  assert.equal(vocabulary.tokens[768], '<d_0>');
  const tree = JSON.parse(table.toPrefixTreeJson({ tokenOffset: 151_643 }));
  const first = JSON.parse(table.toTokensJsonl({ tokenOffset: 151_643 }).split('\n')[0]);
  assert.equal(first.id, table.entries()[0].id);
  // The first item's path: each token allowed after the ones before it, the last naming it.
  first.token_ids.forEach((id, depth) => {
    assert.ok(tree.next[first.token_ids.slice(0, depth).join(',')].includes(id), `depth ${depth}`);
  });
  assert.equal(tree.items[first.token_ids.join(',')], first.id);
  table.free();
});

test('string ids, CSV quoting and disambiguation codes export as the CLI writes them', async () => {
  const table = await IdTable.load(SMALL);
  assertSameAsCli(table, SMALL, 0);
  assertSameAsCli(table, SMALL, 1_000_000);
  assert.equal(table.toTokensCsv().split('\n')[3], '"a,""b""",<a_0><b_0><c_0>,0 4 8');
  assert.deepEqual(JSON.parse(table.toPrefixTreeJson()).next['1,6'], [8, 9]);
  table.free();
});

test('a token offset that is not a non-negative safe integer is refused with ERR_OPTION', async () => {
  const table = await IdTable.load(SMALL);
  for (const tokenOffset of [-1, 1.5, NaN, Infinity, '5', 5n, 2 ** 53, null]) {
    for (const method of ['toVocabularyJson', 'toTokensJsonl', 'toTokensCsv', 'toPrefixTreeJson']) {
      assert.throws(() => table[method]({ tokenOffset }), (e) => e.code === 'ERR_OPTION'
        && e.message.includes(`IdTable.${method}: tokenOffset must be a non-negative safe integer`), `${method} ${String(tokenOffset)}`);
    }
  }
  assert.throws(() => table.toPrefixTreeJson(5), { code: 'ERR_OPTION', message: /options must be an object/ });
  // A safe offset whose last token id would not be: the Rust check, with the same code.
  assert.throws(() => table.toVocabularyJson({ tokenOffset: Number.MAX_SAFE_INTEGER }), {
    code: 'ERR_OPTION', message: /past 2\^53 − 1/,
  });
  assert.equal(JSON.parse(table.toVocabularyJson({ tokenOffset: Number.MAX_SAFE_INTEGER - 10 })).size, 11);
  table.free();
});
