// Files of any size, in bounded memory: embeddings (.npy float32/float16, JSON Lines, CSV) read
// from a Blob or File, a ReadableStream or any async iterable of bytes (in Node.js,
// fs.createReadStream(path)), batch by batch, and encoded as they come. Nothing here holds more
// than a few batches of rows, whatever the file's size.

import { byteSource } from './byte-source.js';
import { RqvaeError } from './errors.js';
import { DEFAULT_BATCH_ROWS, checkBatchRows, named } from './readers/batches.js';
import { csvBatches } from './readers/csv.js';
import { jsonlBatches, readItemsFrom } from './readers/jsonl.js';
import { npyBatches } from './readers/npy.js';
import { readTitlesFrom } from './readers/titles.js';

const READERS = { npy: npyBatches, jsonl: jsonlBatches, csv: csvBatches };

/** Codes of errors about the rows themselves, which get the source's name. */
const INPUT_CODES = new Set(['ERR_INPUT', 'ERR_DIMENSION', 'ERR_NON_FINITE']);

/** The format named by a file name's extension: 'npy', 'jsonl' (.jsonl, .ndjson), 'csv' or undefined. */
export function formatOf(name) {
  const ext = /\.([a-z0-9]+)$/i.exec(name ?? '')?.[1].toLowerCase();
  if (ext === 'npy') return 'npy';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'csv') return 'csv';
  return undefined;
}

function chooseFormat(format, name) {
  if (format !== undefined) {
    if (!Object.hasOwn(READERS, format)) {
      throw new RqvaeError('ERR_OPTION', `format must be 'npy', 'jsonl' or 'csv', got ${JSON.stringify(format)}`);
    }
    return format;
  }
  const found = formatOf(name);
  if (!found) {
    throw new RqvaeError('ERR_OPTION', `${name}: cannot tell its format from its name; pass { format: 'npy' | 'jsonl' | 'csv' }`);
  }
  return found;
}

/**
 * The embeddings of `source` in batches of whole rows, as they are read: `{ start, count, dim,
 * dtype, rows, ids?, titles?, bytesRead }`. `rows` holds `count × dim` values: a Float32Array, or
 * for a float16 .npy a Uint16Array of float16 bit patterns (Encoder.encode takes both). JSON Lines
 * and CSV batches carry the rows' `ids` and `titles`. Every value is checked finite; errors are
 * RqvaeErrors naming the source and the row or line (ERR_NPY, ERR_INPUT, ERR_DIMENSION,
 * ERR_NON_FINITE, ERR_FETCH when the source itself fails). Batches are new arrays (or views of
 * the source's own chunks), never reused: a batch may be kept.
 *
 * Memory: the batch being filled (at most `batchRows` rows and 64 MiB), one chunk of the source
 * (cut to 1 MiB), and for text the longest line; never the whole file.
 * @param {Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | ArrayBuffer} source
 * @param {{ format?: 'npy' | 'jsonl' | 'csv', name?: string, size?: number, batchRows?: number,
 *   dim?: number, signal?: AbortSignal,
 *   onHeader?: (layout: { rows: number, dim: number, dtype: 'float32' | 'float16' }) => void }} [options]
 *   `dim`: the dimension rows must have (checked before any row); `onHeader` (.npy): called with the
 *   header's sizes before the first batch
 * @returns {AsyncGenerator<ReaderBatch>}
 */
export async function* readEmbeddings(source, options = {}) {
  // Inside the generator, so that a bad option rejects the first `next()` as every other failure
  // does, instead of throwing at the call.
  const { src, format, batchRows } = open(source, options);
  yield* READERS[format](src, { batchRows, expectedDim: options.dim, onHeader: options.onHeader });
}

function checkSignal(signal) {
  if (signal !== undefined && !(typeof signal?.throwIfAborted === 'function' && typeof signal.addEventListener === 'function')) {
    throw new RqvaeError('ERR_OPTION', 'signal must be an AbortSignal');
  }
}

function open(source, { format, name, size, batchRows = DEFAULT_BATCH_ROWS, signal } = {}) {
  checkBatchRows(batchRows);
  checkSignal(signal);
  const src = byteSource(source, { name, size, signal });
  return { src, format: chooseFormat(format, src.name), batchRows };
}

/**
 * Reads an items file, JSON Lines of `{"id", "title"?}` (line i names row i of an .npy, as
 * `rqvae-train assign --items` reads it), streamed: resolves to `{ ids, titles }`.
 * @param {Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array | ArrayBuffer} source
 * @param {{ name?: string, size?: number, expectedRows?: number, signal?: AbortSignal,
 *   onProgress?: (p: { bytesRead: number, totalBytes?: number }) => void }} [options]
 */
export async function readItems(source, { name, size, expectedRows, signal, onProgress } = {}) {
  checkSignal(signal);
  const src = byteSource(source, { name, size, signal });
  return readItemsFrom(src, {
    expectedRows,
    onProgress: onProgress && ((bytesRead) => onProgress({ bytesRead, totalBytes: src.size })),
  });
}

/**
 * Reads a catalog's titles for a SentenceEncoder: JSON Lines of `{"id"?, "title"}` or CSV with a
 * header (`id,title,…`; ids are strings, as CSV gives them), read whole: resolves to
 * `{ ids, titles }`, `ids[i]` undefined where a row has none. A blank title, a missing field or a
 * ragged row is refused, naming the file and the line (ERR_INPUT).
 * @param {Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array | ArrayBuffer} source
 * @param {{ format?: 'jsonl' | 'csv', field?: string, name?: string, size?: number, signal?: AbortSignal,
 *   onProgress?: (p: { bytesRead: number, totalBytes?: number }) => void }} [options]
 *   `field`: the JSON key or CSV column holding the title (default "title")
 */
export async function readTitles(source, { format, field, name, size, signal, onProgress } = {}) {
  checkSignal(signal);
  const src = byteSource(source, { name, size, signal });
  const chosen = chooseFormat(format, src.name);
  if (chosen === 'npy') throw new RqvaeError('ERR_OPTION', `${src.name}: titles come from JSON Lines or CSV, not .npy`);
  if (field !== undefined && (typeof field !== 'string' || field === '')) {
    throw new RqvaeError('ERR_OPTION', `field must be a non-empty string, got ${JSON.stringify(field)}`);
  }
  try {
    return await readTitlesFrom(src, {
      format: chosen,
      field,
      onProgress: onProgress && ((bytesRead) => onProgress({ bytesRead, totalBytes: src.size })),
    });
  } catch (e) {
    throw named(e, src.name);
  }
}

/** An AbortController that follows `signal` (its reason included) and can also be aborted alone. */
function follower(signal) {
  const controller = new AbortController();
  if (!signal) return { controller, detach: () => {} };
  const follow = () => controller.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  return { controller, detach: () => signal.removeEventListener('abort', follow) };
}

/**
 * Encodes `source` batch by batch as it is read, yielding each batch's semantic IDs as soon as
 * they are made: `{ start, count, ids, rows, dim, dtype, itemIds?, titles? }`, `ids` a Uint16Array
 * of `count × levels` (row-major), `rows` the batch's embeddings (for IdTable.add, say), `itemIds`
 * and `titles` the rows' own (JSON Lines and CSV). While you handle a batch, the next one is read
 * and encoded (on the encoder's workers, if it has them).
 *
 * Memory: at most three batches of rows (being read, being encoded, handed to you: with the
 * defaults 3 × 4,096 rows × 768 × 4 bytes ≈ 38 MB), plus the batches one source chunk completes
 * (chunks are cut to 1 MiB), and for text the longest line; never the whole file.
 *
 * The format comes from `format`, else from the name's extension (a File's name, a Node.js file
 * stream's path, or `name`). Cancelling (`signal`) rejects with `signal.reason`; any other
 * failure is an RqvaeError (see readEmbeddings), and the source is closed either way, also when
 * you stop iterating early.
 * @param {import('./encoder.js').Encoder} encoder
 * @param {Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | ArrayBuffer} source
 * @param {{ format?: 'npy' | 'jsonl' | 'csv', name?: string, size?: number, batchRows?: number,
 *   signal?: AbortSignal, onHeader?: (layout: { rows: number, dim: number, dtype: string }) => void,
 *   onProgress?: (p: { rowsDone: number, totalRows?: number, bytesRead: number, totalBytes?: number }) => void }} [options]
 *   `size`: the source's length in bytes where you know it and it cannot tell (a stream): a
 *   truncated .npy is then refused before any row is encoded, and progress has a total
 */
export async function* encodeStream(encoder, source, options = {}) {
  const { signal, onProgress, onHeader } = options;
  if (!encoder || typeof encoder.encode !== 'function' || typeof encoder.config !== 'object') {
    throw new RqvaeError('ERR_INPUT', 'encoder must be a loaded Encoder');
  }
  checkSignal(signal);
  // Our own controller: it follows the caller's signal (its reason included), and also stops the
  // batch read ahead when the caller leaves the loop early.
  const { controller, detach } = follower(signal);
  let reader;
  let pending;
  let reading;
  try {
    signal?.throwIfAborted();
    const { src, format, batchRows } = open(source, { ...options, signal: controller.signal });
    const { name } = src;
    let totalRows;
    reader = READERS[format](src, {
      batchRows,
      expectedDim: encoder.config.input_dim,
      onHeader: (layout) => {
        totalRows = layout.rows;
        onHeader?.(layout);
      },
    });
    // Two stages in step: the next batch is read while this one is encoded (on the encoder's
    // workers, if it has them), and handed to the caller while the one after is encoded.
    reading = reader.next();
    reading.catch(() => {});
    const step = async () => {
      const next = await reading;
      if (next.done) return null;
      reading = reader.next();
      reading.catch(() => {});
      const batch = next.value;
      controller.signal.throwIfAborted();
      let ids;
      try {
        ids = await encoder.encode(batch.rows, { dim: batch.dim, signal: controller.signal });
      } catch (e) {
        // Bad rows are the file's: say which. A worker's death or a freed encoder are not.
        throw INPUT_CODES.has(e?.code) ? named(e, name) : e;
      }
      return { batch, ids };
    };
    const ahead = () => {
      pending = step();
      // Handled when awaited; without this, a failure of the read-ahead while the caller is
      // still busy with the batch before would be reported as unhandled.
      pending.catch(() => {});
    };
    ahead();
    for (;;) {
      let current;
      try {
        current = await pending;
      } catch (e) {
        // A cancel stops whichever step was running: it rejects with the caller's reason.
        if (signal?.aborted) throw signal.reason;
        throw e;
      }
      if (!current) break;
      ahead();
      const { batch, ids } = current;
      onProgress?.({
        rowsDone: batch.start + batch.count, totalRows, bytesRead: batch.bytesRead, totalBytes: src.size,
      });
      const out = {
        start: batch.start, count: batch.count, ids, rows: batch.rows, dim: batch.dim, dtype: batch.dtype,
      };
      if (batch.ids) {
        out.itemIds = batch.ids;
        out.titles = batch.titles;
      }
      yield out;
    }
    signal?.throwIfAborted();
  } finally {
    detach();
    if (!controller.signal.aborted) controller.abort(new RqvaeError('ERR_INPUT', 'the stream was closed'));
    // Let the read-ahead settle before closing the reader (a generator cannot be closed while it
    // runs), then close it, and with it the source.
    await pending?.catch(() => {});
    await reading?.catch(() => {});
    await reader?.return();
  }
}

/**
 * @typedef {object} ReaderBatch
 * @property {number} start the first row's number in the file
 * @property {number} count rows in the batch
 * @property {number} dim values per row
 * @property {'float32' | 'float16'} dtype
 * @property {Float32Array | Uint16Array} rows count × dim values (float16: bit patterns)
 * @property {(string | number)[]} [ids] the rows' ids (JSON Lines, CSV)
 * @property {string[]} [titles] the rows' titles ('' where none)
 * @property {number} bytesRead bytes of the source read when the batch was complete
 */
