// The package's CPU worker (js/node-cpu-worker.js in Node.js, js/cpu-worker.js in browsers) with
// a way to kill it in the middle of a call, for the pool's recovery tests. A float32 batch whose
// first value is CRASH_EXIT ends the worker (Node.js: its thread exits with code 3); one whose
// first value is CRASH_THROW throws an uncaught error (an `error` event in browsers and Node.js).
// Either happens before the real worker sees the batch, so the call is left without an answer.
// One whose first value is CRASH_TRAP reaches the real worker swapped for 700,000 rows of zeros
// (2.15 GB of float32, zero pages the system hands out lazily): copying them into the worker's
// wasm instance is an allocation past wasm32's 2 GiB limit, which Rust answers by aborting, so the
// real worker's call traps (`unreachable`), as a bug that slipped past the package's caps would.

export const CRASH_EXIT = 4242;
export const CRASH_THROW = -4242;
export const CRASH_TRAP = 4343;
const TRAP_ROWS = 700_000;

const inNode = typeof globalThis.process?.versions?.node === 'string' && typeof globalThis.WorkerGlobalScope === 'undefined';
const inWebWorker = typeof globalThis.WorkerGlobalScope !== 'undefined';
// null outside a worker: the tests also import this module, for its constants.
const port = inNode ? (await import('node:worker_threads')).parentPort : (inWebWorker ? globalThis : null);

function crashOn(msg) {
  if (msg?.type !== 'encode' || msg.f16) return;
  const first = msg.rows[0];
  if (first === CRASH_EXIT && inNode) process.exit(3);
  if (first === CRASH_EXIT || first === CRASH_THROW) throw new Error(`test crash on the batch at row ${msg.rowOffset}`);
  if (first === CRASH_TRAP) msg.rows = new Float32Array(TRAP_ROWS * msg.dim);
}

if (port) {
  // The real worker's message listener is wrapped as it registers, so a crash comes before it.
  // (A listener of our own would not do: in Node.js, messages start flowing as soon as one is
  // added, and the worker's init would reach it before js/node-cpu-worker.js had loaded.)
  if (inNode) {
    const on = port.on.bind(port);
    port.on = (type, listener) => on(type, type === 'message' ? (msg) => { crashOn(msg); return listener(msg); } : listener);
    await import('../../js/node-cpu-worker.js');
  } else {
    // Browsers deliver messages as soon as the worker's first script has run, and those that
    // arrive while js/cpu-worker.js loads would find no listener: held here, replayed after.
    const early = [];
    const hold = (event) => early.push(event.data);
    port.addEventListener('message', hold);
    const add = port.addEventListener.bind(port);
    port.addEventListener = (type, listener, options) => add(
      type,
      type === 'message' ? (event) => { crashOn(event.data); return listener(event); } : listener,
      options,
    );
    await import('../../js/cpu-worker.js');
    port.removeEventListener('message', hold);
    for (const data of early) port.dispatchEvent(new MessageEvent('message', { data }));
  }
}
