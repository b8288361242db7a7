// The package's one error class. Every failure it reports is an RqvaeError whose `code` names
// what went wrong and stays the same across releases (the message is for people and may be
// reworded); cancelling rejects with the AbortSignal's reason instead (an AbortError by default).

/**
 * Codes:
 * ERR_INPUT (rows, ids, weights or the wasm of the wrong type or shape), ERR_DIMENSION,
 * ERR_NON_FINITE, ERR_OPTION (a bad option value, or a second wasm source), ERR_WEIGHTS,
 * ERR_NO_DECODER, ERR_NPY, ERR_TOO_LARGE, ERR_ID_RANGE, ERR_IDS, ERR_TABLE, ERR_MODEL_MISMATCH,
 * ERR_FREED, ERR_NO_WEBGPU, ERR_WEBGPU, ERR_WORKER, ERR_FETCH (weights, the default model or the
 * wasm could not be fetched or read, or what came was not wasm), ERR_INTERNAL (anything else: a
 * bug).
 */
export class RqvaeError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'RqvaeError';
    this.code = code;
  }
}

/**
 * `e` as an RqvaeError: errors from the wasm module carry their code already; anything else
 * (which should not happen) becomes ERR_INTERNAL with the original as its cause. Abort reasons
 * pass through unchanged.
 */
export function toError(e) {
  if (e instanceof RqvaeError || e?.name === 'AbortError') return e;
  if (e instanceof Error && typeof e.code === 'string' && e.code.startsWith('ERR_')) {
    return new RqvaeError(e.code, e.message);
  }
  return new RqvaeError('ERR_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
}
