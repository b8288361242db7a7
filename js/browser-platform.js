// How the package reads assets and starts CPU workers in browsers (pages and workers alike: all
// it needs is fetch and module workers). This is the default platform; js/node.js puts
// js/node-platform.js in its place. Nothing here imports a `node:` module, so bundlers that
// target the web build it as it is.

import { fetchBytes } from './fetch-bytes.js';

export const browserPlatform = {
  /** @type {(location: URL | string, what: string) => Promise<Uint8Array>} */
  readBytes: fetchBytes,

  /**
   * Starts a CPU worker: js/cpu-worker.js, or `url` (tests swap in a worker they can crash).
   * `onDeath(reason)` runs when it can no longer answer.
   */
  spawnCpuWorker(url, onMessage, onDeath) {
    // Written out in full, in one expression: bundlers recognise a worker only in this form
    // and then bundle js/cpu-worker.js with its imports as a worker of its own.
    const worker = url === undefined
      ? new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module' })
      : new Worker(url, { type: 'module' });
    worker.addEventListener('message', (event) => onMessage(event.data));
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      // A script that fails to load gives an error event without a message.
      onDeath(event.message || `${url ?? 'js/cpu-worker.js'} failed to load`);
    });
    worker.addEventListener('messageerror', () => onDeath('a message from it could not be read'));
    return {
      post: (msg, transfer) => worker.postMessage(msg, transfer),
      // Browsers never wait on workers to exit, so there is no reference to hold.
      hold: () => {},
      release: () => {},
      terminate: () => worker.terminate(),
    };
  },
};
