// Titles in, IDs out, for the demo's worker: a CSV or JSON Lines file of titles without vectors
// is embedded by the default text model (all-MiniLM-L6-v2, in the package's text module) and its
// vectors given IDs by the RQ-VAE trained on that model's vectors. The run's state is kept
// (`TextSession`), so that the page's "new item" box can give one typed title its ID, show the
// prefix it joins and its nearest items, and add it to the table.

import { SentenceEncoder, readTitles } from './js/index.js';
import { InputError } from './inputs.js';

const TEXT_MODEL = new URL('./models/minilm-l6-v2.text.safetensors', import.meta.url);
export const TEXT_ID_MODEL = new URL('./models/minilm.safetensors', import.meta.url);
/** Titles embedded at a time: progress and cancel stay prompt on a long catalog. */
const TEXT_BATCH = 256;

/**
 * Whether a CSV or JSON Lines file holds titles without vectors, from its first line: a JSON
 * object without an "embedding", or a CSV line of fewer than 8 fields (vectors have hundreds).
 */
export async function isTitlesOnly(blob, format) {
  if (format !== 'csv' && format !== 'jsonl') return false;
  const head = await blob.slice(0, 64 * 1024).text();
  const first = head.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim() !== '');
  if (first === undefined) return false;
  if (format === 'jsonl') {
    try {
      const obj = JSON.parse(first);
      return obj !== null && typeof obj === 'object' && !('embedding' in obj) && 'title' in obj;
    } catch {
      return false;
    }
  }
  return first.split(',').length < 8;
}

let textEncoder = null; // the default text model, loaded once

/** The default text model, loaded once per worker. */
export async function textModel(report) {
  if (!textEncoder) {
    report?.('Loading the text model (all-MiniLM-L6-v2)');
    textEncoder = await SentenceEncoder.load(TEXT_MODEL, { backend: 'cpu' });
  }
  return textEncoder;
}

/** `{ ids, titles }` of a titles file; a bad row is an InputError naming the file and line. */
export async function readTitleItems(blob, name, format, { signal, onProgress }) {
  try {
    const { ids, titles } = await readTitles(blob, { name, format, signal, onProgress });
    return { ids: ids.map((id, r) => id ?? r), titles };
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new InputError(name, e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message);
  }
}

/** The titles' vectors, `TEXT_BATCH` at a time, with progress and cancel. */
export async function embedTitles(titles, { signal, onProgress }) {
  const encoder = await textModel();
  return encoder.embed(titles, { batchSize: TEXT_BATCH, signal, onProgress });
}

/** Cosine of unit vectors: their dot product. */
function dot(a, aOff, b, bOff, dim) {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[aOff + j] * b[bOff + j];
  return s;
}

/**
 * What a titles run keeps for the "new item" box: the encoder, the table job, every item's
 * vector, id, title and ID.
 */
export class TextSession {
  constructor({ encoder, tableJob, vectors, itemIds, titles, nearest, levels }) {
    Object.assign(this, { encoder, tableJob, vectors, itemIds, titles, nearest, levels });
    this.dim = encoder.config.input_dim;
  }

  get rows() {
    return this.itemIds.length;
  }

  /** A title's vector, its nearest codes and its `k` nearest items (by cosine of the vectors). */
  async probe(title, k = 5) {
    if (typeof title !== 'string' || title.trim() === '') throw new InputError('the new item', 'type a title first');
    const vector = await (await textModel()).embed([title]);
    const codes = await this.encoder.encode(vector);
    const scores = [];
    for (let r = 0; r < this.rows; r++) scores.push([dot(vector, 0, this.vectors, r * this.dim, this.dim), r]);
    scores.sort((a, b) => b[0] - a[0]);
    const neighbours = scores.slice(0, k).map(([cosine, row]) => ({ row, cosine }));
    const prefix = Array.from(codes.subarray(0, this.levels - 1));
    let prefixItems = 0;
    for (let r = 0; r < this.rows; r++) {
      let same = true;
      for (let l = 0; l < this.levels - 1 && same; l++) same = this.nearest[r * this.levels + l] === prefix[l];
      if (same) prefixItems += 1;
    }
    return { title, vector, codes: Array.from(codes), neighbours, prefix, prefixItems };
  }

  /** Adds the item to the table (id: `id`, else the next free row number). */
  async add(title, id) {
    const { vector, codes } = await this.probe(title, 0);
    const itemId = id ?? this.rows;
    if (this.itemIds.some((x) => x === itemId)) throw new InputError('the new item', `id ${JSON.stringify(itemId)} is already in the table`);
    await this.tableJob.add(vector, [itemId], this.dim, this.rows);
    const grown = new Float32Array(this.vectors.length + this.dim);
    grown.set(this.vectors);
    grown.set(vector, this.vectors.length);
    this.vectors = grown;
    const nearest = new Uint16Array(this.nearest.length + this.levels);
    nearest.set(this.nearest);
    nearest.set(codes, this.nearest.length);
    this.nearest = nearest;
    this.itemIds = [...this.itemIds, itemId];
    this.titles = [...this.titles, title];
    return itemId;
  }

  free() {
    this.tableJob.free();
  }
}
