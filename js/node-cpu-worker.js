// A CPU worker in Node.js: a worker thread started by js/node-platform.js.

import { parentPort } from 'node:worker_threads';
import { answerCpuPool } from './cpu-worker-messages.js';

answerCpuPool(
  (handler) => parentPort.on('message', handler),
  (msg, transfer) => parentPort.postMessage(msg, transfer),
);
