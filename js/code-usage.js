// Code usage of semantic IDs by the trainer's own definitions (src/metrics.rs, through the wasm
// module): what `rqvae-train eval` and the training log report, computed for any IDs.

import { codeUsageJson } from '../pkg/rqvae.js';
import { RqvaeError, toError } from './errors.js';
import { initWasm } from './wasm.js';

const positive = (v) => Number.isSafeInteger(v) && v > 0;

/**
 * Per level: codes used, dead, utilisation (used / codebook size), perplexity, Gini and entropy
 * ratio; and distinct full tuples. `ids`: N × levels, row-major, as Encoder.encode returns them.
 * @param {Uint16Array} ids
 * @param {{ levels: number, codebookSize: number }} options
 * @returns {Promise<{ levels: { used: number, dead: number, utilisation: number, perplexity: number,
 *   gini: number, entropyRatio: number }[], unique: number, rows: number }>}
 */
export async function codeUsage(ids, { levels, codebookSize } = {}) {
  if (!(ids instanceof Uint16Array)) {
    throw new RqvaeError('ERR_INPUT', `ids must be a Uint16Array (as encode returns them), got ${Object.prototype.toString.call(ids)}`);
  }
  if (!positive(levels)) throw new RqvaeError('ERR_OPTION', `levels must be a positive integer, got ${JSON.stringify(levels)}`);
  if (!positive(codebookSize)) throw new RqvaeError('ERR_OPTION', `codebookSize must be a positive integer, got ${JSON.stringify(codebookSize)}`);
  await initWasm();
  let json;
  try {
    json = codeUsageJson(ids, levels, codebookSize);
  } catch (e) {
    throw toError(e);
  }
  const usage = JSON.parse(json);
  return {
    levels: usage.levels.map((l) => ({
      used: l.used, dead: l.dead, utilisation: l.utilisation, perplexity: l.perplexity, gini: l.gini, entropyRatio: l.entropy_ratio,
    })),
    unique: usage.unique,
    rows: usage.rows,
  };
}
