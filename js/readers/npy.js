// `.npy` embeddings read as a stream of row batches. The header is read by the Rust reader the
// CLI uses (through the wasm module), so both accept and refuse the same files with the same
// messages; this module only moves the rows, which need no parsing.

import { npyCheckDataBytes, npyHeaderJson } from '../../pkg/rqvae.js';
import { RqvaeError, toError } from '../errors.js';
import { initWasm } from '../wasm.js';
import { batchRowsFor, checkDim, named } from './batches.js';

/**
 * A header this long is refused rather than buffered whole: real headers are a few hundred bytes
 * (numpy's own reader refuses more than 10,000), and a corrupt length field must not make the
 * reader hold a whole file in memory.
 */
export const MAX_HEADER_BYTES = 16 << 20;

const F16_EXPONENT = 0x7c00;

function probe(prefix, atEnd, name) {
  try {
    return JSON.parse(npyHeaderJson(prefix, atEnd));
  } catch (e) {
    throw named(toError(e), name);
  }
}

/** The first `n` bytes of `parts` (n ≤ their total length) in one array. */
function head(parts, n) {
  if (parts.length > 0 && parts[0].length >= n) return parts[0].subarray(0, n);
  const out = new Uint8Array(n);
  let at = 0;
  for (const part of parts) {
    if (at >= n) break;
    const take = Math.min(part.length, n - at);
    out.set(part.subarray(0, take), at);
    at += take;
  }
  return out;
}

/** Rust's display of a non-finite f32, as the CLI's message prints it. */
const showNonFinite = (v) => (Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf');

/** Refuses the first NaN or infinity of `values` (rows from `start`), naming the file's row. */
function checkFinite(values, dim, start, dtype, name) {
  let bad = -1;
  let value;
  if (dtype === 'float16') {
    for (let i = 0; i < values.length; i++) {
      if ((values[i] & F16_EXPONENT) === F16_EXPONENT) {
        bad = i;
        const h = values[i];
        value = (h & 0x3ff) !== 0 ? NaN : (h & 0x8000 ? -Infinity : Infinity);
        break;
      }
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      // `v - v` is 0 for every finite v and NaN otherwise: one test instead of two.
      const v = values[i];
      if (v - v !== 0) {
        bad = i;
        value = v;
        break;
      }
    }
  }
  if (bad >= 0) {
    const row = start + Math.floor(bad / dim);
    throw new RqvaeError('ERR_NON_FINITE', `${name}: row ${row}, column ${bad % dim} is ${showNonFinite(value)}: embeddings must be finite numbers`);
  }
}

/**
 * The rows of a `.npy` source in batches of whole rows, in order: `{ start, count, dim, dtype,
 * rows, bytesRead }`, where `rows` is a Float32Array (float32) or a Uint16Array of float16 bit
 * patterns (which Encoder.encode takes as they are), `count × dim` values. Every value is checked
 * finite, and an error names the file's row. The size check (truncated data, trailing bytes)
 * runs before the first batch when the source's size is known, else when it ends.
 * Memory: one batch being filled and the source's current chunk; never the file.
 * @param {import('../byte-source.js').ByteSource} src
 * @param {{ batchRows: number, expectedDim?: number,
 *   onHeader?: (layout: { rows: number, dim: number, dtype: 'float32' | 'float16' }) => void }} options
 */
export async function* npyBatches(src, { batchRows, expectedDim, onHeader }) {
  await initWasm();
  const { name } = src;
  const chunks = src.chunks();
  try {
    // The header: probe with what has arrived, read as many bytes as the probe asks for, again.
    const parts = [];
    let have = 0;
    let ended = false;
    let need = 12;
    let layout;
    for (;;) {
      while (have < need && !ended) {
        const step = await chunks.next();
        if (step.done) ended = true;
        else if (step.value.length > 0) {
          parts.push(step.value);
          have += step.value.length;
        }
      }
      const atEnd = ended && have <= need;
      const result = probe(head(parts, Math.min(have, need)), atEnd, name);
      if (result.needBytes === undefined) {
        layout = result;
        break;
      }
      if (result.needBytes > MAX_HEADER_BYTES) {
        throw new RqvaeError('ERR_NPY', `${name}: the .npy header claims ${result.needBytes.toLocaleString('en-US')} bytes; headers over ${MAX_HEADER_BYTES.toLocaleString('en-US')} bytes are refused (real ones are a few hundred)`);
      }
      need = result.needBytes;
    }
    const { rows: totalRows, dim, dtype, dataOffset, dataBytes } = layout;
    const headerBytes = head(parts, dataOffset).slice();
    const checkData = (found) => {
      try {
        npyCheckDataBytes(headerBytes, found);
      } catch (e) {
        throw named(toError(e), name);
      }
    };
    // As the CLI does: a file of the wrong size is refused before a single row is read.
    if (src.size !== undefined) checkData(src.size - dataOffset);
    if (totalRows === 0) throw new RqvaeError('ERR_NPY', `${name}: no embeddings: the input has 0 rows`);
    if (dim === 0) throw new RqvaeError('ERR_NPY', `${name}: embedding dimension must be at least 1`);
    checkDim(name, dim, expectedDim);
    onHeader?.({ rows: totalRows, dim, dtype });

    const width = dtype === 'float16' ? 2 : 4;
    const Typed = dtype === 'float16' ? Uint16Array : Float32Array;
    const rowBytes = dim * width;
    const perBatch = batchRowsFor(batchRows, rowBytes);
    let start = 0; // the next batch's first row
    let batch = null; // the batch being filled
    let filled = 0;
    let seen = 0; // data bytes read (past the end of the data: trailing bytes counted too)
    let bytesRead = 0;
    const out = [];
    // Checked as they go out, so that every whole batch before a NaN is handed on first.
    function* release() {
      for (const batch of out.splice(0)) {
        checkFinite(batch.rows, dim, batch.start, dtype, name);
        yield batch;
      }
    }

    const emit = (bytes) => {
      const count = bytes.length / rowBytes;
      const values = new Typed(bytes.buffer, bytes.byteOffset, count * dim);
      out.push({ start, count, dim, dtype, rows: values, bytesRead });
      start += count;
    };
    const take = (chunk) => {
      let at = 0;
      while (at < chunk.length) {
        if (seen >= dataBytes) {
          seen += chunk.length - at; // trailing bytes: counted for the message, never kept
          return;
        }
        const size = Math.min(perBatch, totalRows - start) * rowBytes;
        // A whole batch inside the chunk, on a value boundary: handed on as a view, uncopied.
        if (filled === 0 && chunk.length - at >= size && (chunk.byteOffset + at) % width === 0) {
          emit(chunk.subarray(at, at + size));
          at += size;
          seen += size;
          continue;
        }
        // Otherwise copied: rows that straddle chunks, or data at an odd offset (a header whose
        // length is not a multiple of the value's width), which a typed array cannot view.
        batch ??= new Uint8Array(size);
        const n = Math.min(size - filled, chunk.length - at);
        batch.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        seen += n;
        if (filled === size) {
          emit(batch);
          batch = null;
          filled = 0;
        }
      }
    };

    // Bytes that arrived with the header.
    for (const part of parts) bytesRead += part.length;
    let offset = dataOffset;
    for (const part of parts) {
      if (offset < part.length) take(part.subarray(offset));
      offset = Math.max(0, offset - part.length);
    }
    parts.length = 0;
    yield* release();
    while (!ended) {
      const step = await chunks.next();
      if (step.done) break;
      bytesRead += step.value.length;
      take(step.value);
      yield* release();
    }
    checkData(seen);
  } finally {
    await chunks.return();
  }
}
