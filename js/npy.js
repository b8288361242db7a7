// `.npy` files, read by the same Rust reader as the CLI's.
//
// The whole file and the float32 array it becomes are both in wasm memory during the call, so
// the size is checked first, from the header alone: a file whose array would pass the cap is
// refused before anything large is copied in (a 1M × 768 float16 file needed 1.5 GB in and 3 GB
// out, past what wasm32 can hold, and trapped).

import { npyCheckDataBytes, npyHeaderJson, readNpy as wasmReadNpy } from '../pkg/rqvae.js';
import { toBytes } from './checks.js';
import { RqvaeError, toError } from './errors.js';
import { DEFAULT_NPY_MAX_BYTES, NPY_MAX_BYTES_LIMIT, showBytes } from './limits.js';
import { isLiveGeneration, onLiveWasm } from './wasm.js';

/**
 * A longer header is refused rather than copied in (real ones are a few hundred bytes; numpy's
 * reader refuses more than 10,000): a corrupt length field must not copy a whole file in. The
 * streaming reader (js/readers/npy.js) draws the same line.
 */
const MAX_HEADER_BYTES = 16 << 20;

function checkMaxBytes(maxBytes) {
  if (maxBytes === undefined) return DEFAULT_NPY_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > NPY_MAX_BYTES_LIMIT) {
    throw new RqvaeError('ERR_OPTION', `maxBytes must be an integer from 1 to ${NPY_MAX_BYTES_LIMIT.toLocaleString('en-US')} (${showBytes(NPY_MAX_BYTES_LIMIT)}), got ${JSON.stringify(maxBytes) ?? String(maxBytes)}`);
  }
  return maxBytes;
}

/**
 * The header's layout, read by the Rust header reader from the first bytes only (it refuses a
 * bad header with the same message as the full reader).
 */
function layoutOf(view) {
  let prefix = view.subarray(0, Math.min(view.length, 128));
  for (;;) {
    const probe = JSON.parse(npyHeaderJson(prefix, prefix.length === view.length));
    if (probe.needBytes === undefined) return probe;
    if (probe.needBytes > MAX_HEADER_BYTES) {
      throw new RqvaeError('ERR_NPY', `the .npy header claims ${probe.needBytes.toLocaleString('en-US')} bytes; headers over ${MAX_HEADER_BYTES.toLocaleString('en-US')} bytes are refused (real ones are a few hundred)`);
    }
    if (probe.needBytes <= prefix.length) throw new RqvaeError('ERR_INTERNAL', `the .npy header reader asked for ${probe.needBytes} bytes after ${prefix.length}`);
    prefix = view.subarray(0, Math.min(view.length, probe.needBytes));
  }
}

/**
 * Parses `.npy` bytes (2-D, little-endian float32 or float16, C order) with the Rust reader.
 * Refuses (ERR_TOO_LARGE) a file whose float32 array would pass `maxBytes` (default 1 GiB, at most
 * 1.5 GiB): read such files with `encodeStream`, which holds a batch at a time.
 * @param {Uint8Array | ArrayBuffer} bytes
 * @param {{ maxBytes?: number }} [options]
 * @returns {Promise<{ data: Float32Array, rows: number, dim: number, dtype: 'float32' | 'float16' }>}
 */
export async function readNpy(bytes, { maxBytes } = {}) {
  const view = toBytes(bytes, '.npy bytes');
  const cap = checkMaxBytes(maxBytes);
  return onLiveWasm((gen) => {
    let array;
    try {
      const layout = layoutOf(view);
      // The CLI's truncated / trailing-bytes refusal, without copying the data in.
      npyCheckDataBytes(view.subarray(0, layout.dataOffset), view.length - layout.dataOffset);
      const out = layout.rows * layout.dim * 4;
      if (out > cap) {
        throw new RqvaeError('ERR_TOO_LARGE', `this .npy holds ${layout.rows.toLocaleString('en-US')} × ${layout.dim} ${layout.dtype} values: ${showBytes(out)} as float32, more than readNpy's cap of ${showBytes(cap)} (the file and its float32 array must both fit in the wasm module's memory, at most 4 GiB). Read it in batches with encodeStream(encoder, source), which holds a few thousand rows at a time, or raise the cap with readNpy(bytes, { maxBytes }) up to ${showBytes(NPY_MAX_BYTES_LIMIT)}`);
      }
      array = wasmReadNpy(view);
    } catch (e) {
      throw toError(e, 'readNpy');
    }
    try {
      return { data: array.data, rows: array.rows, dim: array.dim, dtype: array.dtype };
    } catch (e) {
      throw toError(e, 'readNpy');
    } finally {
      // After a trap only forgotten: the instance is dead.
      if (isLiveGeneration(gen)) array.free();
      else array.__destroy_into_raw();
    }
  });
}
