// One CPU encoder in a worker (a Web Worker in browsers, a worker thread in Node.js), with a
// wasm instance of its own. js/cpu-pool.js sends it the compiled module, the weights and then
// batches; no memory is shared, so pages need no cross-origin isolation for this.

import init, { WasmEncoder, f16ToF32 } from '../pkg/rqvae.js';

const inNode = typeof globalThis.process?.versions?.node === 'string' && typeof globalThis.WorkerGlobalScope === 'undefined';
const port = inNode ? (await import('node:worker_threads')).parentPort : globalThis;
const onMessage = (handler) => (inNode
  ? port.on('message', handler)
  : port.addEventListener('message', (event) => handler(event.data)));

let encoder;
// Rows this worker has encoded, sent with each result: the pool's evidence of who did the work.
let encodedRows = 0;

onMessage(async (msg) => {
  try {
    if (msg.type === 'init') {
      await init({ module_or_path: msg.module });
      encoder = new WasmEncoder(msg.weights);
      port.postMessage({ id: msg.id, ok: true });
    } else if (msg.type === 'encode') {
      const rows = msg.f16 ? f16ToF32(msg.rows) : msg.rows;
      const ids = encoder.encodeCpu(rows, msg.dim, msg.rowOffset);
      encodedRows += rows.length / msg.dim;
      port.postMessage({ id: msg.id, ok: true, ids, encodedRows }, [ids.buffer]);
    } else {
      throw new Error(`unknown message type ${JSON.stringify(msg.type)}`);
    }
  } catch (e) {
    // The wasm module's errors carry a stable code; the pool rebuilds an RqvaeError from it.
    port.postMessage({ id: msg.id, ok: false, message: e instanceof Error ? e.message : String(e), code: e?.code });
  }
});
