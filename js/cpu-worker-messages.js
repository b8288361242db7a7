// What a CPU worker does with the messages js/cpu-pool.js sends it, for both worker scripts
// (js/cpu-worker.js in browsers, js/node-cpu-worker.js in Node.js): load the compiled module and
// the weights into a wasm instance of its own, then encode batches of rows (the RQ-VAE module)
// or embed batches of texts (the text module, imported only by workers that need it). No memory
// is shared, so pages need no cross-origin isolation for this.

import init, { WasmEncoder, f16ToF32 } from '../pkg/rqvae.js';

/**
 * Answers the pool's messages.
 * @param {(handler: (msg: any) => void) => void} listen registers the message handler
 * @param {(msg: any, transfer?: Transferable[]) => void} post answers the pool
 */
export function answerCpuPool(listen, post) {
  let encoder;
  let textEncoder;
  // Rows this worker has encoded, sent with each result: the pool's evidence of who did the work.
  let encodedRows = 0;

  listen(async (msg) => {
    try {
      if (msg.type === 'init') {
        await init({ module_or_path: msg.module });
        encoder = new WasmEncoder(msg.weights);
        post({ id: msg.id, ok: true });
      } else if (msg.type === 'init-text') {
        const text = await import('../pkg/rqvae_text.js');
        await text.default({ module_or_path: msg.module });
        textEncoder = text.WasmTextEncoder.fromBundle(msg.weights, msg.name);
        post({ id: msg.id, ok: true });
      } else if (msg.type === 'embed') {
        const vectors = textEncoder.embedCpu(msg.texts, msg.rowOffset);
        encodedRows += msg.texts.length;
        post({ id: msg.id, ok: true, vectors, encodedRows }, [vectors.buffer]);
      } else if (msg.type === 'encode') {
        const rows = msg.f16 ? f16ToF32(msg.rows) : msg.rows;
        const ids = encoder.encodeCpu(rows, msg.dim, msg.rowOffset);
        encodedRows += rows.length / msg.dim;
        post({ id: msg.id, ok: true, ids, encodedRows }, [ids.buffer]);
      } else {
        throw new Error(`unknown message type ${JSON.stringify(msg.type)}`);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof WebAssembly.RuntimeError) {
        // A trap: this worker's instance is unusable from now on. The pool stops the worker and
        // starts another before its next call; until then nothing more is sent here.
        post({ id: msg.id, ok: false, trapped: true, message: `${e.name}: ${message}` });
        return;
      }
      // The wasm module's errors carry a stable code; the pool rebuilds an RqvaeError from it.
      post({ id: msg.id, ok: false, message, code: e?.code });
    }
  });
}
