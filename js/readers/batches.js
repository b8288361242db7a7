// What the streaming readers share: how big a batch is, how errors name their source, and the
// batch of parsed rows that the text readers (JSON Lines, CSV) fill.

import { RqvaeError } from '../errors.js';

/** Rows per batch unless the caller says otherwise. */
export const DEFAULT_BATCH_ROWS = 4096;

/**
 * A batch never holds more than this many bytes of values, whatever `batchRows` asks for: with
 * very wide rows, fewer rows per batch keep memory bounded.
 */
export const MAX_BATCH_BYTES = 64 << 20;

/** Rows per batch for rows of `rowBytes` bytes: `batchRows`, capped by MAX_BATCH_BYTES. */
export function batchRowsFor(batchRows, rowBytes) {
  return Math.max(1, Math.min(batchRows, Math.floor(MAX_BATCH_BYTES / Math.max(1, rowBytes))));
}

/** Checks `batchRows` as an option. */
export function checkBatchRows(batchRows) {
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) {
    throw new RqvaeError('ERR_OPTION', `batchRows must be a positive integer, got ${JSON.stringify(batchRows)}`);
  }
}

/** `error` with the source's name in front of its message (an abort's reason passes as it is). */
export function named(error, name) {
  if (!(error instanceof RqvaeError) || error.message.startsWith(`${name}: `)) return error;
  return new RqvaeError(error.code, `${name}: ${error.message}`, { cause: error.cause });
}

/** An RqvaeError about the source `name`. */
export const inputError = (name, message, code = 'ERR_INPUT') => new RqvaeError(code, `${name}: ${message}`);

const fmt = (n) => n.toLocaleString('en-US');
export { fmt };

/** Refuses rows of `dim` values for a model of `expectedDim`, with the package's words for it. */
export function checkDim(name, dim, expectedDim) {
  if (expectedDim != null && dim !== expectedDim) {
    throw inputError(name, `embedding dimension is ${fmt(dim)} but the model expects ${fmt(expectedDim)}`, 'ERR_DIMENSION');
  }
}

/** Parsed rows of a text file with their ids and titles, handed on as batches. */
export class RowBatcher {
  /**
   * @param {number} dim values per row
   * @param {number} batchRows rows per batch (before the byte cap)
   */
  constructor(dim, batchRows) {
    this.dim = dim;
    this.capacity = batchRowsFor(batchRows, dim * 4);
    this.start = 0;
    this.#reset();
  }

  #reset() {
    // Grown as rows come (doubling up to the capacity), so that a three-row file does not
    // allocate a whole batch.
    this.values = new Float32Array(Math.min(this.capacity, 16) * this.dim);
    this.ids = [];
    this.titles = [];
  }

  /** The next row's values, to be filled in place and then committed with `commit`. */
  get slot() {
    const at = this.ids.length * this.dim;
    if (at + this.dim > this.values.length) {
      const grown = new Float32Array(Math.min(this.capacity, 2 * (this.values.length / this.dim)) * this.dim);
      grown.set(this.values);
      this.values = grown;
    }
    return this.values.subarray(at, at + this.dim);
  }

  commit(id, title) {
    this.ids.push(id);
    this.titles.push(title);
  }

  get full() {
    return this.ids.length === this.capacity;
  }

  get count() {
    return this.ids.length;
  }

  /** The rows so far as a batch `{ start, count, dim, dtype, rows, ids, titles }`; starts a new one. */
  take(bytesRead) {
    const count = this.ids.length;
    const batch = {
      start: this.start,
      count,
      dim: this.dim,
      dtype: 'float32',
      rows: count * this.dim === this.values.length ? this.values : this.values.slice(0, count * this.dim),
      ids: this.ids,
      titles: this.titles,
      bytesRead,
    };
    this.start += count;
    this.#reset();
    return batch;
  }
}
