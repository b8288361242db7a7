// The text module in Node.js: SentenceEncoder against sentence-transformers' own vectors and
// Hugging Face tokenizers' ids (tests/fixtures/minilm-reference.json), on one thread and on
// workers; progress, cancel, bad input; and titles straight into an ID table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder, IdTable, RqvaeError, SentenceEncoder } from '../../js/node.js';
import { DEFAULT_MODEL, ROOT, textReference } from './fixtures.mjs';

const reference = textReference();

function cosines(ours, theirs, dim) {
  const out = [];
  for (let i = 0; i < ours.length / dim; i++) {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < dim; j++) {
      const a = ours[i * dim + j];
      const b = theirs[i * dim + j];
      d += a * b;
      na += a * a;
      nb += b * b;
    }
    out.push(d / Math.sqrt(na * nb));
  }
  return { min: Math.min(...out), mean: out.reduce((s, v) => s + v, 0) / out.length };
}

test('the default text model gives sentence-transformers\' vectors and tokenizers\' ids, edge cases included', async () => {
  const encoder = await SentenceEncoder.loadDefault({ backend: 'cpu' });
  assert.equal(encoder.dim, 384);
  assert.equal(encoder.config.pooling, 'mean');
  assert.equal(encoder.config.max_seq_length, 256);
  const progress = [];
  const vectors = await encoder.embed(reference.texts, { batchSize: 16, onProgress: (p) => progress.push(p.done) });
  assert.deepEqual(progress, [16, 32, 48, 64, 73]);
  const { min, mean } = cosines(vectors, reference.embeddings, 384);
  assert.ok(min >= 0.9999 && mean >= 0.99999, `cosine min ${min}, mean ${mean}`);
  for (const [i, text] of reference.texts.entries()) {
    assert.deepEqual(Array.from(await encoder.tokenize(text)), reference.tokenIds[i], `token ids of ${JSON.stringify(text).slice(0, 60)}`);
  }
  encoder.free();
  await assert.rejects(encoder.embed(['x']), { code: 'ERR_FREED' });
});

test('two worker threads give the vectors one thread gives, and cancel stops them', async () => {
  const one = await SentenceEncoder.loadDefault({ backend: 'cpu' });
  const two = await SentenceEncoder.loadDefault({ backend: 'cpu', threads: 2 });
  assert.equal(two.threads, 2);
  const texts = reference.texts.slice(0, 40);
  const a = await one.embed(texts);
  const b = await two.embed(texts, { batchSize: 7 });
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-6), 'workers and the calling thread agree');
  const controller = new AbortController();
  const long = Array.from({ length: 2000 }, (_, i) => `${texts[i % 40]} ${i}`);
  const pending = two.embed(long, { batchSize: 50, signal: controller.signal, onProgress: () => controller.abort() });
  await assert.rejects(pending, { name: 'AbortError' });
  one.free();
  two.free();
});

test('bad input and bad models are refused with a code and a message, and the encoder stays usable', async () => {
  const encoder = await SentenceEncoder.loadDefault({ backend: 'cpu' });
  for (const [texts, message] of [
    ['a title', /texts must be an array of strings/],
    [[], /no texts to embed/],
    [['ok', 7], /texts\[1\] is number 7, not a string/],
  ]) {
    await assert.rejects(encoder.embed(texts), (e) => e instanceof RqvaeError && e.code === 'ERR_INPUT' && message.test(e.message));
  }
  await assert.rejects(encoder.embed(['x'], { batchSize: 0 }), { code: 'ERR_OPTION' });
  await assert.rejects(SentenceEncoder.loadDefault({ backend: 'gpu' }), { code: 'ERR_OPTION' });
  await assert.rejects(SentenceEncoder.load(readFileSync(DEFAULT_MODEL)), (e) => e.code === 'ERR_TEXT_MODEL' && /it is an RQ-VAE weights file/.test(e.message));
  await assert.rejects(SentenceEncoder.load(new Uint8Array([1, 2, 3])), (e) => e.code === 'ERR_TEXT_MODEL' && /not a safetensors file/.test(e.message));
  await assert.rejects(SentenceEncoder.load(join(ROOT, 'nothing-here.safetensors')), { code: 'ERR_FETCH' });
  // Still usable after all that.
  assert.equal((await encoder.embed(['Halo 3'])).length, 384);
  encoder.free();
});

test('IdTable takes titles with a text encoder, and refuses blank titles and a model of another width', async () => {
  const text = await SentenceEncoder.loadDefault({ backend: 'cpu' });
  const mpnet = await Encoder.loadDefault({ backend: 'cpu' });
  await assert.rejects(IdTable.assign(mpnet, ['Halo 3'], { textEncoder: text }), (e) => e.code === 'ERR_DIMENSION' && /384-d vectors but the ID model expects 768-d/.test(e.message));
  await assert.rejects(IdTable.assign(mpnet, ['Halo 3']), (e) => e.code === 'ERR_INPUT' && /textEncoder/.test(e.message));
  const minilm = await Encoder.loadDefault({ backend: 'cpu', model: 'minilm' });
  await assert.rejects(IdTable.assign(minilm, ['Halo 3', '  '], { textEncoder: text }), (e) => e.code === 'ERR_INPUT' && /title 1 is blank/.test(e.message));
  const titles = reference.texts.slice(0, 40);
  const { table, report } = await IdTable.assign(minilm, titles, { textEncoder: text, ids: titles.map((_, i) => `item-${i}`) });
  assert.equal(report.added, 40);
  assert.equal(table.size, 40);
  const vectors = await text.embed(titles);
  const direct = (await IdTable.assign(minilm, vectors, { ids: titles.map((_, i) => `item-${i}`) })).table;
  assert.equal(table.toJsonl(), direct.toJsonl(), 'titles give the table their vectors give');
  for (const e of [text, mpnet, minilm]) e.free();
});
