// `.npy` files, read by the same Rust reader as the CLI's.

import { readNpy as wasmReadNpy } from '../pkg/rqvae.js';
import { toBytes } from './checks.js';
import { toError } from './errors.js';
import { initWasm } from './wasm.js';

/**
 * Parses `.npy` bytes (2-D, little-endian float32 or float16, C order) with the Rust reader.
 * @returns {Promise<{ data: Float32Array, rows: number, dim: number, dtype: 'float32' | 'float16' }>}
 */
export async function readNpy(bytes) {
  const view = toBytes(bytes, '.npy bytes');
  await initWasm();
  let array;
  try {
    array = wasmReadNpy(view);
  } catch (e) {
    throw toError(e);
  }
  const result = { data: array.data, rows: array.rows, dim: array.dim, dtype: array.dtype };
  array.free();
  return result;
}
