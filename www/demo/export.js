// Downloads of a run: the items with their codes and IDs (CSV, JSON Lines), and the ID table in
// its own format (.jsonl, which this page and rqvae-train assign read back), as CSV, as LC-Rec's
// index, and as what a generative recommender trains on (the tokens' vocabulary, every item's
// tokens, the prefix tree for constrained decoding; token ids from 0, as `rqvae-train tokens`
// writes them by default). Files are made in the browser; nothing is uploaded.

import { el } from './elements.js';
import { toCsv, toJsonl } from './stats.js';

const $ = (id) => document.getElementById(id);
const buttons = {
  csv: $('export-csv'),
  jsonl: $('export-jsonl'),
  table: $('export-table'),
  tableCsv: $('export-table-csv'),
  lcrec: $('export-lcrec'),
  vocabulary: $('export-vocabulary'),
  tokens: $('export-tokens'),
  prefixTree: $('export-prefix-tree'),
};

let result = null;

export function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function baseName(name) {
  return name.replace(/(\.f(16|32))?\.(npy|jsonl|ndjson|csv)$/i, '') || 'items';
}

/** The table's file name: the loaded table's name marked as updated, else one after the input. */
export function tableBase() {
  const loaded = result.table.loaded;
  return loaded ? `${baseName(loaded.name)}-updated` : `${baseName(result.name)}-id-table`;
}

/** Offers the downloads of `res` (the buttons stay disabled until a first run). */
export function setExports(res) {
  result = res;
  for (const b of Object.values(buttons)) b.disabled = false;
  buttons.table.textContent = res.table.loaded ? 'Updated ID table (.jsonl)' : 'ID table (.jsonl)';
}

buttons.csv.addEventListener('click', () => {
  if (result) download(toCsv(result), `${baseName(result.name)}-semantic-ids.csv`, 'text/csv');
});
buttons.jsonl.addEventListener('click', () => {
  if (result) download(toJsonl(result), `${baseName(result.name)}-semantic-ids.jsonl`, 'application/x-ndjson');
});
buttons.table.addEventListener('click', () => {
  if (result) download(result.table.exports.jsonl, `${tableBase()}.jsonl`, 'application/x-ndjson');
});
buttons.tableCsv.addEventListener('click', () => {
  if (result) download(result.table.exports.csv, `${tableBase()}.csv`, 'text/csv');
});
buttons.lcrec.addEventListener('click', () => {
  if (result) download(result.table.exports.lcrec, `${tableBase()}-lcrec.json`, 'application/json');
});
buttons.vocabulary.addEventListener('click', () => {
  if (result) download(result.table.exports.vocabulary, `${tableBase()}-vocabulary.json`, 'application/json');
});
buttons.tokens.addEventListener('click', () => {
  if (result) download(result.table.exports.tokens, `${tableBase()}-tokens.jsonl`, 'application/x-ndjson');
});
buttons.prefixTree.addEventListener('click', () => {
  if (result) download(result.table.exports.prefixTree, `${tableBase()}-prefix-tree.json`, 'application/json');
});
