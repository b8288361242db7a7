// Where the streaming readers get their bytes: a Blob or File, a ReadableStream, any
// (async) iterable of Uint8Array chunks (a Node.js fs.createReadStream(path) is one), or bytes
// already in memory. Each becomes an async iterator of Uint8Array chunks of at most CHUNK_BYTES:
// larger chunks are cut into views, so that no later step (text decoding above all) ever holds
// more than that at once, whatever the source hands over.

import { RqvaeError } from './errors.js';

/** The largest chunk a reader handles at once (1 MiB). */
export const CHUNK_BYTES = 1 << 20;

const describe = (value) => Object.prototype.toString.call(value);
const isBytes = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
// Duck-typed rather than `instanceof`: a Blob or stream from another realm (an iframe, a
// polyfill, undici in Node.js) is just as readable.
const isBlob = (v) => v != null && typeof v === 'object' && typeof v.stream === 'function' && typeof v.size === 'number';
const isReadableStream = (v) => v != null && typeof v === 'object' && typeof v.getReader === 'function';
const isAsyncIterable = (v) => v != null && typeof v[Symbol.asyncIterator] === 'function';
const isIterable = (v) => v != null && typeof v !== 'string' && typeof v[Symbol.iterator] === 'function';

function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/**
 * @typedef {object} ByteSource
 * @property {string} name the source, for messages: the option, else a File's name or a Node.js
 *   file stream's path, else 'the input'
 * @property {number | undefined} size its length in bytes, where known before reading
 * @property {() => AsyncGenerator<Uint8Array>} chunks its bytes, in order, once
 */

/**
 * The bytes of `source`, to be read once in chunks.
 * @param {Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | ArrayBuffer | ArrayBufferView} source
 * @param {{ name?: string, size?: number, signal?: AbortSignal }} [options] `size`: the length, for
 *   a stream whose length the caller knows (a Blob's or the bytes' own length wins)
 * @returns {ByteSource}
 */
export function byteSource(source, { name, size, signal } = {}) {
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new RqvaeError('ERR_OPTION', `size must be a whole number of bytes, got ${JSON.stringify(size)}`);
  }
  const label = name ?? (typeof source?.name === 'string' && source.name !== '' ? source.name : undefined)
    ?? (typeof source?.path === 'string' ? source.path : undefined) ?? 'the input';
  if (isBytes(source)) {
    const bytes = asBytes(source);
    return { name: label, size: bytes.byteLength, chunks: () => split(once(bytes), label, signal) };
  }
  if (isBlob(source)) {
    return { name: label, size: source.size, chunks: () => split(fromReader(() => source.stream().getReader(), label), label, signal) };
  }
  if (isReadableStream(source)) {
    return { name: label, size, chunks: () => split(fromReader(() => source.getReader(), label), label, signal) };
  }
  if (isAsyncIterable(source) || isIterable(source)) {
    return { name: label, size, chunks: () => split(fromIterable(source, label), label, signal) };
  }
  throw new RqvaeError('ERR_INPUT', `${label}: a source must be a Blob or File, a ReadableStream, an (async) iterable of Uint8Array chunks or bytes, got ${describe(source)}`);
}

async function* once(bytes) {
  yield bytes;
}

/** A read failure of the source itself (a file removed, a network stream cut): not bad input. */
function readFailure(e, name) {
  if (e instanceof RqvaeError) return e;
  return new RqvaeError('ERR_FETCH', `${name}: could not be read (${e?.message ?? e})`, { cause: e });
}

/**
 * The values `next()` steps through, with read failures named; `stop(finished)` runs however the
 * loop ends (`finished`: the source said done), to release what the source holds.
 */
async function* drain(next, name, stop) {
  let finished = false;
  try {
    for (;;) {
      let step;
      try {
        step = await next();
      } catch (e) {
        throw readFailure(e, name);
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    await stop(finished);
  }
}

async function* fromReader(open, name) {
  let reader;
  try {
    reader = open();
  } catch (e) {
    // A locked stream (another reader holds it) or a Blob whose file is gone.
    throw readFailure(e, name);
  }
  yield* drain(() => reader.read(), name, (finished) => {
    // Stopped early (an error further on, a cancel): release the file or connection now.
    if (!finished) reader.cancel().catch(() => {});
    reader.releaseLock?.();
  });
}

async function* fromIterable(source, name) {
  const iterator = isAsyncIterable(source) ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  // As for-await does: a Node.js stream closes its file when its iterator returns.
  yield* drain(() => iterator.next(), name, async (finished) => {
    if (!finished) await Promise.resolve(iterator.return?.()).catch(() => {});
  });
}

/** Checks each chunk's type, cuts it to CHUNK_BYTES views and stops at a cancel. */
async function* split(chunks, name, signal) {
  for await (const value of chunks) {
    signal?.throwIfAborted();
    const bytes = asBytes(value);
    if (!bytes) {
      const hint = typeof value === 'string' ? ' (a text stream: read it without an encoding)' : '';
      throw new RqvaeError('ERR_INPUT', `${name}: a chunk of the source is ${describe(value)}, not bytes (Uint8Array)${hint}`);
    }
    for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
      if (at > 0) signal?.throwIfAborted();
      yield bytes.subarray(at, at + CHUNK_BYTES);
    }
  }
  signal?.throwIfAborted();
}
