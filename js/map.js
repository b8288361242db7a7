// The explorer's map: a 2-D layout of items in which neighbours stay neighbours (UMAP, computed
// in Rust: src/map/), from the latents an Encoder gives. It runs a few epochs per call into the
// wasm module and yields between them, so that a worker can draw the map while it settles,
// answer other messages and stop when asked.

import { WasmMapLayout, mapEpochs, mapStart } from '../pkg/rqvae.js';
import { RqvaeError, toError } from './errors.js';
import { initWasm } from './wasm.js';

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

function positiveInteger(value, name, { optional = false } = {}) {
  if (optional && value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 1) throw new RqvaeError('ERR_OPTION', `${name} must be a positive integer, found ${value}`);
  return value;
}

/**
 * A map of `latents` (N × dim, row-major): resolves to a Float32Array of N × 2 positions.
 * @param {Float32Array} latents
 * @param {{ dim: number, neighbours?: number, epochs?: number, seed?: number, stepEpochs?: number,
 *   signal?: AbortSignal,
 *   onProgress?: (p: { epochsDone: number, epochs: number, positions: Float32Array }) => void }} options
 *   `neighbours` (default 15, itself counted) and `epochs` (default 500 up to 10,000 items, else
 *   200) are UMAP's; `seed` (default 42) makes the map repeatable; `onProgress` gets the start
 *   (epoch 0: the latents' principal components) before the neighbour search, then a copy of
 *   the positions every `stepEpochs` epochs (default 10).
 */
export async function mapLayout(latents, { dim, neighbours = 15, epochs, seed = 42, stepEpochs = 10, signal, onProgress } = {}) {
  if (!(latents instanceof Float32Array)) throw new RqvaeError('ERR_INPUT', 'latents must be a Float32Array (an Encoder\'s latents)');
  positiveInteger(dim, 'dim');
  positiveInteger(neighbours, 'neighbours');
  const total = positiveInteger(epochs, 'epochs', { optional: true });
  positiveInteger(stepEpochs, 'stepEpochs');
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RqvaeError('ERR_OPTION', `seed must be a non-negative integer, found ${seed}`);
  signal?.throwIfAborted();
  await initWasm();
  let layout;
  try {
    if (onProgress) {
      // The start first (the latents' principal components): drawn at once, while the
      // neighbour graph, most of a large map's wait, is built.
      onProgress({ epochsDone: 0, epochs: mapEpochs(latents.length / dim, total), positions: mapStart(latents, dim, neighbours, total, BigInt(seed)) });
      await yieldToEventLoop();
      signal?.throwIfAborted();
    }
    layout = new WasmMapLayout(latents, dim, neighbours, total, BigInt(seed));
  } catch (e) {
    throw toError(e, 'mapLayout');
  }
  try {
    const all = layout.epochs();
    let done = layout.epochsDone();
    while (done < all) {
      await yieldToEventLoop();
      signal?.throwIfAborted();
      done = layout.run(stepEpochs);
      onProgress?.({ epochsDone: done, epochs: all, positions: layout.positions() });
    }
    return layout.positions();
  } catch (e) {
    throw toError(e, 'mapLayout');
  } finally {
    layout.free();
  }
}
