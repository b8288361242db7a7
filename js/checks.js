// Input checks and conversions shared by Encoder and IdTable, so that both reject bad input with
// the same messages before anything reaches the wasm module.

import { RqvaeError } from './errors.js';

/**
 * Validates `rows` (Float32Array, or Uint16Array of float16 bits) for a model of `inputDim`.
 * @returns {{ n: number, width: number, isF16: boolean }}
 */
export function checkRows(rows, dim, inputDim) {
  const isF16 = rows instanceof Uint16Array;
  if (!(rows instanceof Float32Array) && !isF16) {
    throw new RqvaeError('ERR_INPUT', 'rows must be a Float32Array (float32) or Uint16Array (float16 bits)');
  }
  const width = dim ?? inputDim;
  if (!Number.isInteger(width) || width < 1) throw new RqvaeError('ERR_INPUT', `dim must be a positive integer, got ${dim}`);
  if (width !== inputDim) {
    throw new RqvaeError('ERR_DIMENSION', `embedding dimension is ${width} but the model expects ${inputDim}`);
  }
  if (rows.length === 0) throw new RqvaeError('ERR_INPUT', 'no rows to encode: the array is empty');
  if (rows.length % width !== 0) {
    throw new RqvaeError('ERR_INPUT', `${rows.length} values are not a whole number of rows of dimension ${width} (${rows.length % width} left over)`);
  }
  return { n: rows.length / width, width, isF16 };
}

/**
 * For this package's modules (not public API): each Encoder's way to run `fn(wasmEncoder)` on
 * the running wasm instance, `(what, fn) => Promise` (it rebuilds its Rust object after a trap).
 */
export const wasmEncoders = new WeakMap();

export function toBytes(weights, what) {
  if (weights instanceof Uint8Array) return weights;
  if (weights instanceof ArrayBuffer) return new Uint8Array(weights);
  if (ArrayBuffer.isView(weights)) {
    return new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  }
  throw new RqvaeError('ERR_INPUT', `${what} must be a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(weights)}`);
}
