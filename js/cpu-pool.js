// Several CPU encoders in workers, fed batches in turn: the CPU backend on more than one core.
// Each worker holds its own wasm instance and copy of the weights (an RQ-VAE's few MB, or a text
// model), so this needs no SharedArrayBuffer and works on any page and in Node.js.

import { RqvaeError } from './errors.js';
import { platform } from './platform.js';

const FREED = 'the encoder was freed during the call';

/** A CPU worker stopped answering (it crashed, or could not start); the message says why. */
export class CpuWorkerError extends RqvaeError {
  constructor(message) {
    super('ERR_WORKER', message);
    this.name = 'CpuWorkerError';
  }
}

const freed = () => new RqvaeError('ERR_FREED', FREED);

/** One worker and the calls waiting on it. Once dead, every call on it rejects at once. */
class WorkerSlot {
  #handle;
  #jobs = new Map();
  #next = 0;
  #ready = false;
  /** Why the worker can no longer answer (undefined while it can). */
  #dead;
  /** Rows this worker says it has encoded (its own count, sent with every result). */
  rowsEncoded = 0;

  static async start(url, init) {
    const slot = new WorkerSlot();
    slot.#handle = platform().spawnCpuWorker(url, (msg) => slot.#settle(msg), (reason) => slot.#die(reason));
    try {
      await slot.call(init);
    } catch (e) {
      // A worker whose init failed (bad weights) is still running: stop it.
      slot.terminate();
      throw e;
    }
    slot.#ready = true;
    return slot;
  }

  get dead() {
    return this.#dead !== undefined;
  }

  call(msg, transfer = []) {
    // A dead worker never answers (Node.js drops messages to an ended thread): refuse now.
    if (this.#dead !== undefined) {
      return Promise.reject(this.#dead === FREED ? freed() : new CpuWorkerError(this.#dead));
    }
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
    if (typeof msg.encodedRows === 'number') this.rowsEncoded = msg.encodedRows;
    if (msg.ok) job.resolve(msg);
    else if (msg.trapped) {
      job.reject(new RqvaeError('ERR_WASM_TRAP', `a CPU worker's wasm instance trapped (${msg.message}): most likely an allocation that did not fit in its memory, else a bug; the worker is stopped and the pool starts a new one for the next call`));
      // Its instance cannot be trusted: no further call goes to it.
      this.#die(`its wasm instance trapped (${msg.message})`);
    } else job.reject(new RqvaeError(msg.code ?? 'ERR_INTERNAL', msg.message));
  }

  /** The worker is gone or cannot be trusted: its calls reject, and it is stopped if it still runs. */
  #die(reason) {
    if (this.#dead !== undefined) return;
    this.#dead = this.#ready
      ? `a CPU worker died during the call (${reason}); the pool starts a new one for the next call`
      : `the CPU worker could not start (${reason})`;
    this.#reject(() => new CpuWorkerError(this.#dead));
    // A browser worker can outlive an uncaught error, in an unknown state: it is not reused.
    this.#handle.terminate();
  }

  #reject(error) {
    for (const job of this.#jobs.values()) job.reject(error());
    this.#jobs.clear();
    this.#handle.release();
  }

  terminate() {
    this.#dead ??= FREED;
    this.#reject(freed);
    this.#handle.terminate();
  }
}

export class CpuPool {
  #slots;
  #url;
  /** The message that sets a worker up: kept to start a replacement for a worker that dies. */
  #init;
  #freed = false;
  #replacing;

  constructor(slots, url, init) {
    this.#slots = slots;
    this.#url = url;
    this.#init = init;
  }

  /**
   * Starts `threads` workers, each with the compiled wasm `module` and the weights: the RQ-VAE
   * module's, or with `text` the text module's (then `weights` is a text bundle named `name`).
   * `workerUrl` replaces the platform's worker script; it is for tests, which wrap the worker to
   * crash it.
   */
  static async start(threads, module, weights, { workerUrl, text = false, name } = {}) {
    // A copy, so that the caller's array can change afterwards.
    const init = { type: text ? 'init-text' : 'init', module, weights: weights.slice(), name };
    const started = await Promise.allSettled(
      Array.from({ length: threads }, () => WorkerSlot.start(workerUrl, init)),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      for (const s of started) if (s.status === 'fulfilled') s.value.terminate();
      throw failed.reason;
    }
    return new CpuPool(started.map((s) => s.value), workerUrl, init);
  }

  get size() {
    return this.#slots.length;
  }

  /**
   * Rows each worker reports it has encoded since it started, in worker order (a replaced
   * worker counts from 0). Tests use it to check that work was shared out.
   */
  get rowsPerWorker() {
    return this.#slots.map((slot) => slot.rowsEncoded);
  }

  /** Starts a new worker in place of each dead one. */
  async #replaceDead() {
    this.#replacing ??= Promise.all(this.#slots.map(async (slot, i) => {
      if (!slot.dead) return;
      let fresh;
      try {
        fresh = await WorkerSlot.start(this.#url, this.#init);
      } catch (e) {
        throw new CpuWorkerError(`a CPU worker died earlier and its replacement failed: ${e.message}`);
      }
      if (this.#freed) fresh.terminate();
      else this.#slots[i] = fresh;
    })).finally(() => {
      this.#replacing = undefined;
    });
    await this.#replacing;
  }

  /**
   * Encodes `rows` (already validated) batch by batch, each worker taking the next batch as it
   * finishes one; IDs land in `out` at their rows' place. A worker that dies fails this call
   * (CpuWorkerError) and is replaced before the next one.
   */
  async encode(rows, { width, isF16, batchSize, levels, out, onProgress, signal }) {
    await this.#distribute(rows.length / width, batchSize, { onProgress, signal }, async (slot, start, end) => {
      const batch = rows.slice(start * width, end * width);
      const { ids } = await slot.call(
        { type: 'encode', rows: batch, f16: isF16, dim: width, rowOffset: start },
        [batch.buffer],
      );
      out.set(ids, start * levels);
    });
  }

  /**
   * Embeds `texts` batch by batch on the text module's workers; vectors land in `out` (`dim`
   * per text) at their texts' place.
   */
  async embed(texts, { dim, batchSize, out, onProgress, signal }) {
    await this.#distribute(texts.length, batchSize, { onProgress, signal }, async (slot, start, end) => {
      const { vectors } = await slot.call({ type: 'embed', texts: texts.slice(start, end), rowOffset: start });
      out.set(vectors, start * dim);
    });
  }

  /** Hands out batches of `n` items to the workers in turn, `run(slot, start, end)` each. */
  async #distribute(n, batchSize, { onProgress, signal }, run) {
    if (this.#freed) throw freed();
    await this.#replaceDead();
    if (this.#freed) throw freed();
    let next = 0;
    let done = 0;
    let failure;
    const work = async (slot) => {
      while (next < n && !failure) {
        if (signal?.aborted) {
          // As fetch does: the signal's reason (an AbortError unless the caller gave one).
          failure = signal.reason;
          return;
        }
        const start = next;
        const end = Math.min(n, start + batchSize);
        next = end;
        try {
          await run(slot, start, end);
          done += end - start;
          onProgress?.({ done, total: n });
        } catch (e) {
          // The first failure (a worker's error or death, or the progress callback's) stops
          // every worker; each settles its call first, so none is left waiting.
          failure ??= e;
          return;
        }
      }
    };
    await Promise.all(this.#slots.map(work));
    if (failure) throw failure;
  }

  terminate() {
    this.#freed = true;
    for (const slot of this.#slots) slot.terminate();
    this.#slots = [];
  }
}
