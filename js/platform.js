// The two things Node.js and browsers do differently: reading an asset's bytes and starting a
// CPU worker. The platform is chosen by which entry was imported (package.json `exports`: the
// `node` condition gives js/node.js, everything else js/index.js), never by sniffing the
// environment at run time, so that bundlers see no `node:` module in a browser build.

import { browserPlatform } from './browser-platform.js';

let current = browserPlatform;

/**
 * @typedef {object} Platform
 * @property {(location: URL | string, what: string) => Promise<Uint8Array>} readBytes
 * @property {(url: URL | string | undefined, onMessage: (msg: any) => void,
 *   onDeath: (reason: string) => void) => WorkerHandle} spawnCpuWorker `url` undefined: the
 *   platform's own worker script
 *
 * @typedef {object} WorkerHandle
 * @property {(msg: any, transfer?: Transferable[]) => void} post
 * @property {() => void} hold keeps the process alive while a job runs (Node.js)
 * @property {() => void} release lets it exit again
 * @property {() => void} terminate
 */

/** @returns {Platform} */
export function platform() {
  return current;
}

/**
 * Replaces the browser platform; js/node.js calls it once, before any of its exports can run.
 * @param {Platform} replacement
 */
export function usePlatform(replacement) {
  current = replacement;
}
