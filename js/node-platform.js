// How the package reads assets and starts CPU workers in Node.js: files straight from disk
// (Node's fetch refuses file: URLs), other URLs over fetch, workers on worker_threads.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RqvaeError } from './errors.js';
import { fetchBytes } from './fetch-bytes.js';

const FETCHED = new Set(['http:', 'https:', 'data:']);

/**
 * A file: URL or URL string, or anything else given as a string (a path: a Windows path such as
 * C:\models\x.safetensors would parse as a URL of scheme "c:"), as a path; other URLs as they are.
 */
function fileOrUrl(location) {
  if (location instanceof URL) return location.protocol === 'file:' ? fileURLToPath(location) : location;
  let url;
  try {
    url = new URL(location);
  } catch {
    return location;
  }
  if (url.protocol === 'file:') return fileURLToPath(url);
  return FETCHED.has(url.protocol) ? url : location;
}

export const nodePlatform = {
  /**
   * @param {URL | string} location
   * @param {string} what
   */
  async readBytes(location, what) {
    const target = fileOrUrl(location);
    if (target instanceof URL) return fetchBytes(target, what);
    try {
      const bytes = await readFile(target);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (e) {
      throw new RqvaeError('ERR_FETCH', `could not read ${what} from ${target}: ${e.message}`, { cause: e });
    }
  },

  /**
   * Starts a CPU worker thread: js/node-cpu-worker.js, or `url` (tests swap in a worker they
   * can crash). `onDeath(reason)` runs when it can no longer answer: an uncaught error, a
   * message it could not read, or its thread ending.
   */
  spawnCpuWorker(url, onMessage, onDeath) {
    const worker = new Worker(url ?? new URL('./node-cpu-worker.js', import.meta.url));
    worker.on('message', onMessage);
    worker.on('error', (e) => onDeath(e instanceof Error ? `uncaught ${e.name}: ${e.message}` : String(e)));
    worker.on('messageerror', (e) => onDeath(`a message could not be read: ${e?.message ?? e}`));
    worker.on('exit', (code) => onDeath(`its thread exited with code ${code}`));
    // Idle workers must not keep the process alive; the pool holds a reference while a job runs.
    worker.unref();
    return {
      post: (msg, transfer) => worker.postMessage(msg, transfer),
      hold: () => worker.ref(),
      release: () => worker.unref(),
      terminate: () => worker.terminate(),
    };
  },
};
