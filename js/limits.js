// How much one call may hand the wasm module. wasm32 memory is at most 4 GiB and one Rust
// allocation at most 2 GiB (isize::MAX); a call needs its input copied in plus its outputs and
// scratch, and the memory never shrinks. A request past that does not fail politely: Rust's
// allocation failure aborts, which is a trap (`unreachable`). So every call that takes rows is
// cut into batches no larger than these caps, and inputs that cannot be batched are measured
// before anything is copied in.

import { RqvaeError } from './errors.js';

/** Rows per call into the wasm module (encode, decode, IdTable.add): the most `batchSize` takes. */
export const MAX_BATCH_ROWS = 65_536;

/**
 * Float32 bytes of rows per call, whatever the model's width: 65,536 rows of 768 values are
 * 192 MiB; a much wider model gets fewer rows per call instead.
 */
const MAX_BATCH_BYTES = 512 * 2 ** 20;

/** `readNpy`'s default cap on the float32 array it returns (1 GiB: 349,525 rows of 768). */
export const DEFAULT_NPY_MAX_BYTES = 2 ** 30;

/**
 * The highest `maxBytes` readNpy accepts: the file's bytes and the float32 result are both in
 * wasm memory at once (3 GiB for a float32 file at this cap), and one allocation is at most 2 GiB.
 */
export const NPY_MAX_BYTES_LIMIT = 1.5 * 2 ** 30;

/** Weights larger than this are refused (real models are a few MB; the default is 2.3 MB). */
export const MAX_WEIGHTS_BYTES = 2 ** 30;

/** The rows one call may take for rows of `dim` values. */
export function maxBatchRows(dim) {
  return Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(MAX_BATCH_BYTES / (dim * 4))));
}

/**
 * `batchSize` checked against the cap for rows of `dim` values (`fallback` when undefined).
 * @returns {number}
 */
export function checkBatchSize(batchSize, dim, fallback) {
  const cap = maxBatchRows(dim);
  const value = batchSize === undefined ? Math.min(fallback, cap) : batchSize;
  if (!Number.isInteger(value) || value < 1 || value > cap) {
    throw new RqvaeError('ERR_OPTION', `batchSize must be an integer from 1 to ${cap.toLocaleString('en-US')} (rows per call into the wasm module, whose memory is at most 4 GiB), got ${JSON.stringify(batchSize) ?? String(batchSize)}`);
  }
  return value;
}

/** Bytes for people: `2.86 GiB (3,072,000,000 bytes)`. */
export function showBytes(n) {
  const units = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  const [size, unit] = units.find(([s]) => n >= s) ?? [1, 'bytes'];
  const short = size === 1 ? `${n} bytes` : `${(n / size).toFixed(n % size === 0 ? 0 : 2)} ${unit}`;
  return size === 1 ? short : `${short} (${n.toLocaleString('en-US')} bytes)`;
}
