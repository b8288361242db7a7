// JSON Lines, streamed: embeddings (`{"id", "title"?, "embedding": [numbers]}` per line) as row
// batches, and items files (`{"id", "title"?}` per line, line i naming row i of an .npy) as
// their ids and titles. Blank lines are skipped; errors name the file and the line.

import { RowBatcher, checkDim, fmt, inputError } from './batches.js';
import { LineSplitter, decodedText, describe, splitText } from './text.js';

function jsonLineError(name, line, lineNo, isLast, e) {
  if (/(^|[\s,[:])-?(NaN|Infinity)\s*[,\]}]/.test(line)) {
    return inputError(name, `line ${lineNo} contains NaN or Infinity, which are not numbers (and not valid JSON)`, 'ERR_NON_FINITE');
  }
  const hint = isLast ? '; the file may be truncated' : '';
  return inputError(name, `line ${lineNo} is not valid JSON (${e.message})${hint}`);
}

/** One line as an object with an "id" (a string or a finite number). */
function objectWithId(name, line, lineNo, isLast) {
  let obj;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw jsonLineError(name, line, lineNo, isLast, e);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw inputError(name, `line ${lineNo} is ${describe(obj)}, not a JSON object`);
  }
  if (!('id' in obj) || obj.id === null || (typeof obj.id !== 'string' && typeof obj.id !== 'number')) {
    throw inputError(name, `line ${lineNo} has no "id" (a string or number)`);
  }
  // JSON.parse reads 1e400 as Infinity, which later messages would print as null.
  if (typeof obj.id === 'number' && !Number.isFinite(obj.id)) {
    throw inputError(name, `line ${lineNo}: the id is a number too large for a double; write it as a string`);
  }
  return obj;
}

const titleOf = (obj) => (obj.title == null ? '' : String(obj.title));

/**
 * The rows of a JSON Lines embeddings source in batches: `{ start, count, dim, dtype: 'float32',
 * rows, ids, titles, bytesRead }`.
 * Memory: one batch, the source's current chunk and the longest line; never the file.
 * @param {import('../byte-source.js').ByteSource} src
 * @param {{ batchRows: number, expectedDim?: number }} options
 */
export async function* jsonlBatches(src, { batchRows, expectedDim }) {
  const { name } = src;
  let batcher = null;
  let firstLine = 0;
  const read = { bytes: 0 };
  const out = [];
  const onLine = (line, lineNo, isLast) => {
    if (line.trim() === '') return;
    const obj = objectWithId(name, line, lineNo, isLast);
    const emb = obj.embedding;
    if (!Array.isArray(emb)) {
      const hint = 'title' in obj && emb === undefined ? ' (an items file of ids and titles goes with an .npy)' : '';
      throw inputError(name, `line ${lineNo} has no "embedding" array${hint}`);
    }
    if (!batcher) {
      if (emb.length === 0) throw inputError(name, `line ${lineNo}: "embedding" is empty`);
      checkDim(name, emb.length, expectedDim);
      batcher = new RowBatcher(emb.length, batchRows);
      firstLine = lineNo;
    } else if (emb.length !== batcher.dim) {
      throw inputError(name, `ragged rows: line ${lineNo} has ${fmt(emb.length)} values but line ${firstLine} has ${fmt(batcher.dim)}${isLast ? ' (the file may be truncated)' : ''}`);
    }
    const slot = batcher.slot;
    for (let k = 0; k < slot.length; k++) {
      const v = emb[k];
      if (typeof v !== 'number') throw inputError(name, `line ${lineNo}: embedding[${k}] is ${describe(v)}, not a number`);
      slot[k] = v;
      if (!Number.isFinite(slot[k])) throw inputError(name, `line ${lineNo}: embedding[${k}] = ${v} overflows float32`, 'ERR_NON_FINITE');
    }
    batcher.commit(obj.id, titleOf(obj));
    if (batcher.full) out.push(batcher.take(read.bytes));
  };
  yield* splitText(src, new LineSplitter(), onLine, out, read);
  if (read.bytes === 0) throw inputError(name, 'the file is empty (0 bytes)');
  if (!batcher) throw inputError(name, 'the file holds no rows (only blank lines)');
  if (batcher.count > 0) yield batcher.take(read.bytes);
}

/**
 * An items file (`{"id", "title"?}` per line; line i names row i), read whole: `{ ids, titles }`.
 * `expectedRows`: the rows the items name, checked at the end.
 * @param {import('../byte-source.js').ByteSource} src
 * @param {{ expectedRows?: number, onProgress?: (bytesRead: number) => void }} [options]
 */
export async function readItemsFrom(src, { expectedRows, onProgress } = {}) {
  const { name } = src;
  const ids = [];
  const titles = [];
  let bytesRead = 0;
  const onLine = (line, lineNo, isLast) => {
    if (line.trim() === '') return;
    const obj = objectWithId(name, line, lineNo, isLast);
    ids.push(obj.id);
    titles.push(titleOf(obj));
  };
  const lines = new LineSplitter();
  for await (const piece of decodedText(src)) {
    bytesRead = piece.bytesRead;
    if (piece.done) lines.end(piece.text, onLine);
    else lines.push(piece.text, onLine);
    onProgress?.(bytesRead);
  }
  if (bytesRead === 0) throw inputError(name, 'the file is empty (0 bytes)');
  if (ids.length === 0) throw inputError(name, 'the file holds no lines');
  if (expectedRows != null && ids.length !== expectedRows) {
    throw inputError(name, `it names ${fmt(ids.length)} items but the embeddings have ${fmt(expectedRows)} rows (line i names row i)`);
  }
  return { ids, titles };
}
