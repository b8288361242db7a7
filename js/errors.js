// The package's one error class. Every failure it reports is an RqvaeError whose `code` names
// what went wrong and stays the same across releases (the message is for people and may be
// reworded); cancelling rejects with the AbortSignal's reason instead (an AbortError by default).

/**
 * Codes:
 * ERR_INPUT (rows, ids, weights or the wasm of the wrong type or shape), ERR_DIMENSION,
 * ERR_NON_FINITE, ERR_OPTION (a bad option value, or a second wasm source), ERR_WEIGHTS,
 * ERR_NO_DECODER, ERR_TEXT_MODEL (a text model bundle that is not one, or not a supported model),
 * ERR_NPY, ERR_TOO_LARGE (more than one call into the wasm module may take, or
 * more than this JavaScript engine could allocate), ERR_ID_RANGE, ERR_IDS, ERR_TABLE, ERR_LABELS
 * (a labels file or a name that is not usable), ERR_MODEL_MISMATCH, ERR_FREED, ERR_NO_WEBGPU, ERR_WEBGPU, ERR_WORKER, ERR_FETCH (weights, the
 * default model or the wasm could not be fetched or read, or what came was not wasm),
 * ERR_WASM_TRAP (the wasm module trapped, in this call or, for an IdTable, in an earlier one that
 * lost the table; the module is restarted), ERR_INTERNAL (anything else: a bug).
 */
export class RqvaeError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'RqvaeError';
    this.code = code;
  }
}

/**
 * The error for a trap (a WebAssembly.RuntimeError: `unreachable`, an out-of-bounds access, …)
 * during `what`. Rust aborts, and so traps, when an allocation fails, and a panic ends the same
 * way after its message is printed to the console.
 */
export function trapError(e, what) {
  const during = what ? ` during ${what}` : '';
  return new RqvaeError('ERR_WASM_TRAP', `the wasm module trapped${during} (${e.name}: ${e.message}): most likely an allocation that did not fit in its memory (wasm32 addresses at most 4 GiB), else a bug (a panic prints its message to the console first; please report it). The module is restarted for the next call: encoders keep working, but ID tables it held are lost and must be loaded again from their last saved JSONL`, { cause: e });
}

/** The codes above: the wasm module's errors carry one of them. */
const CODES = new Set(['ERR_INPUT', 'ERR_DIMENSION', 'ERR_NON_FINITE', 'ERR_OPTION', 'ERR_WEIGHTS', 'ERR_NO_DECODER', 'ERR_TEXT_MODEL', 'ERR_NPY', 'ERR_TOO_LARGE', 'ERR_ID_RANGE', 'ERR_IDS', 'ERR_TABLE', 'ERR_LABELS', 'ERR_MODEL_MISMATCH', 'ERR_FREED', 'ERR_NO_WEBGPU', 'ERR_WEBGPU', 'ERR_WORKER', 'ERR_FETCH', 'ERR_WASM_TRAP', 'ERR_INTERNAL']);

/**
 * A JavaScript allocation that failed: a typed array or string too large for the engine
 * (V8: "Array buffer allocation failed", "Invalid typed array length"; Node.js: a string longer
 * than its limit, ERR_STRING_TOO_LONG).
 */
function isAllocationFailure(e) {
  if (e?.code === 'ERR_STRING_TOO_LONG') return true;
  return e instanceof RangeError && /allocation failed|invalid (typed )?array( buffer)? length|string length|out of memory/i.test(e.message);
}

/**
 * `e` as an RqvaeError: errors from the wasm module carry their code already; a trap becomes
 * ERR_WASM_TRAP and a failed JavaScript allocation ERR_TOO_LARGE; anything else (which should
 * not happen) becomes ERR_INTERNAL with the original as its cause. Abort reasons pass through
 * unchanged. `what` (optional) names the operation for the trap's message.
 */
export function toError(e, what) {
  if (e instanceof RqvaeError || e?.name === 'AbortError') return e;
  if (e instanceof WebAssembly.RuntimeError) return trapError(e, what);
  if (isAllocationFailure(e)) {
    const during = what ? ` during ${what}` : '';
    return new RqvaeError('ERR_TOO_LARGE', `out of memory${during}: ${e.message}; work in smaller pieces (encodeStream reads files batch by batch)`, { cause: e });
  }
  if (e instanceof Error && CODES.has(e.code)) return new RqvaeError(e.code, e.message);
  return new RqvaeError('ERR_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
}
