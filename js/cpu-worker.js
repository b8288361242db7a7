// A CPU worker in browsers: a module Web Worker that js/browser-platform.js starts with a literal
// `new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module' })`, so that bundlers
// bundle it. Its import graph must stay free of `node:` modules (js/node-cpu-worker.js is Node's).

import { answerCpuPool } from './cpu-worker-messages.js';

answerCpuPool(
  (handler) => self.addEventListener('message', (event) => handler(event.data)),
  (msg, transfer) => self.postMessage(msg, transfer ?? []),
);
