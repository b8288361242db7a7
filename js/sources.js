// What callers may hand the package for an asset (weights or the wasm module), turned into bytes:
// the bytes themselves, a fetch Response, or a location that the platform reads (a URL or URL
// string; in Node.js also a file: URL or a path).

import { toBytes } from './checks.js';
import { RqvaeError } from './errors.js';
import { responseBytes } from './fetch-bytes.js';
import { platform } from './platform.js';

const isResponse = (value) => typeof Response === 'function' && value instanceof Response;

/** Whether `source` names where the asset is, rather than holding it. */
export function isLocation(source) {
  return typeof source === 'string' || source instanceof URL || isResponse(source);
}

/**
 * The bytes of `source`.
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView | Response | URL | string} source
 * @param {string} what the asset, for messages
 * @returns {Promise<Uint8Array>}
 */
export async function sourceBytes(source, what) {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return toBytes(source, what);
  if (isResponse(source)) return responseBytes(source, what);
  if (source instanceof URL || typeof source === 'string') return platform().readBytes(source, what);
  throw new RqvaeError('ERR_INPUT', `${what} must be bytes (Uint8Array, ArrayBuffer), a Response, a URL or a URL string (in Node.js also a path), got ${Object.prototype.toString.call(source)}`);
}
