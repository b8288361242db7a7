// Several CPU encoders in workers, fed batches in turn: the CPU backend on more than one core.
// Each worker holds its own wasm instance and copy of the weights (a few MB), so this needs no
// SharedArrayBuffer and works on any page and in Node.js.

const inNode = typeof globalThis.process?.versions?.node === 'string' && typeof globalThis.Worker === 'undefined';

/** A worker with one interface over Node's worker_threads and the browser's Web Workers. */
async function spawn(onMessage, onError) {
  const url = new URL('./cpu-worker.js', import.meta.url);
  if (inNode) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(url);
    worker.on('message', onMessage);
    worker.on('error', (e) => onError(e instanceof Error ? e.message : String(e)));
    // Idle workers must not keep the process alive; `call` holds a reference while a job runs.
    worker.unref();
    return {
      post: (msg, transfer) => worker.postMessage(msg, transfer),
      hold: () => worker.ref(),
      release: () => worker.unref(),
      terminate: () => worker.terminate(),
    };
  }
  const worker = new Worker(url, { type: 'module' });
  worker.addEventListener('message', (event) => onMessage(event.data));
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    onError(event.message || `could not start the CPU worker ${url}`);
  });
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer),
    hold: () => {},
    release: () => {},
    terminate: () => worker.terminate(),
  };
}

class WorkerSlot {
  #handle;
  #jobs = new Map();
  #next = 0;

  static async start(module, weights) {
    const slot = new WorkerSlot();
    slot.#handle = await spawn(
      (msg) => slot.#settle(msg),
      (message) => slot.#failAll(`CPU worker failed: ${message}`),
    );
    await slot.call({ type: 'init', module, weights });
    return slot;
  }

  call(msg, transfer = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject });
      this.#handle.hold();
      this.#handle.post({ ...msg, id }, transfer);
    });
  }

  #settle(msg) {
    const job = this.#jobs.get(msg.id);
    if (!job) return;
    this.#jobs.delete(msg.id);
    if (this.#jobs.size === 0) this.#handle.release();
    if (msg.ok) job.resolve(msg);
    else job.reject(new Error(msg.message));
  }

  #failAll(message) {
    for (const job of this.#jobs.values()) job.reject(new Error(message));
    this.#jobs.clear();
    this.#handle.release();
  }

  terminate() {
    this.#failAll('the encoder was freed during the call');
    this.#handle.terminate();
  }
}

export class CpuPool {
  #slots;

  constructor(slots) {
    this.#slots = slots;
  }

  /** Starts `threads` workers, each with the compiled wasm `module` and the weights. */
  static async start(threads, module, weights) {
    const started = await Promise.allSettled(
      Array.from({ length: threads }, () => WorkerSlot.start(module, weights.slice())),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      for (const s of started) if (s.status === 'fulfilled') s.value.terminate();
      throw failed.reason;
    }
    return new CpuPool(started.map((s) => s.value));
  }

  get size() {
    return this.#slots.length;
  }

  /**
   * Encodes `rows` (already validated) batch by batch, each worker taking the next batch as it
   * finishes one; IDs land in `out` at their rows' place.
   */
  async encode(rows, { width, isF16, batchSize, levels, out, onProgress, signal }) {
    const n = rows.length / width;
    let next = 0;
    let done = 0;
    let failure;
    const work = async (slot) => {
      while (next < n && !failure) {
        if (signal?.aborted) {
          failure = new Error('encoding was cancelled');
          return;
        }
        const start = next;
        const end = Math.min(n, start + batchSize);
        next = end;
        const batch = rows.slice(start * width, end * width);
        try {
          const { ids } = await slot.call(
            { type: 'encode', rows: batch, f16: isF16, dim: width, rowOffset: start },
            [batch.buffer],
          );
          out.set(ids, start * levels);
          done += end - start;
          onProgress?.({ done, total: n });
        } catch (e) {
          // The first failure (a worker's error or the progress callback's) stops every worker.
          failure ??= e;
          return;
        }
      }
    };
    await Promise.all(this.#slots.map(work));
    if (failure) throw failure;
  }

  terminate() {
    for (const slot of this.#slots) slot.terminate();
    this.#slots = [];
  }
}
