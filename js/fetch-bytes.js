// Bytes over HTTP(S), for both platforms: the browser reads every asset this way, Node.js every
// location that is not a file.

import { RqvaeError } from './errors.js';

/**
 * The body of `response` (a fetch Response, or one the caller made), which must be a success:
 * a 404 page read as weights would only fail later, with a less useful message.
 * @param {Response} response
 * @param {string} what the asset, for messages
 * @returns {Promise<Uint8Array>}
 */
export async function responseBytes(response, what) {
  const where = response.url ? ` from ${response.url}` : '';
  if (!response.ok) {
    throw new RqvaeError('ERR_FETCH', `could not fetch ${what}${where}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new RqvaeError('ERR_FETCH', `could not read ${what}${where}: ${e?.message ?? e}`, { cause: e });
  }
}

/**
 * Fetches `location` (a URL, or a string resolved as fetch resolves it: against the page's or
 * worker's own URL).
 * @param {URL | string} location
 * @param {string} what the asset, for messages
 * @returns {Promise<Uint8Array>}
 */
export async function fetchBytes(location, what) {
  let response;
  try {
    response = await fetch(location);
  } catch (e) {
    // fetch rejects with a bare TypeError ("Failed to fetch") for network and CORS failures. A
    // file: URL here is js/index.js imported by path in Node.js, whose fetch cannot read files.
    const hint = String(location).startsWith('file:') ? "; in Node.js, import 'rqvae' (js/node.js reads files)" : '';
    throw new RqvaeError('ERR_FETCH', `could not fetch ${what} from ${location}: ${e?.message ?? e}${hint}`, { cause: e });
  }
  return responseBytes(response, what);
}
