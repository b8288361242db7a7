// IdTable.add for more rows than one call into the wasm module may take: the rows go in batches,
// each a call of the Rust `assign`, and the reports are combined into the one a single call
// would give.
//
// Why the table is the same: items are served in row order after every item already in the
// table, and existing lines never change, so assigning rows 0..n at once equals assigning 0..k
// and then k..n (src/assign.rs) — as long as changed items are not re-assigned (with
// `reassignChanged` a later row's released ID would be free for earlier rows in one call, not in
// batches, so that option is never batched). Everything one call would refuse is checked first,
// over all the rows and in the Rust side's order and words, so that a refusal leaves the table
// as it was and names rows counted over the whole input.
//
// The reports of the batches are combined by js/add-reports.js.

import { RqvaeError } from './errors.js';

const F16_EXPONENT = 0x7c00;

/** Rust's display of a non-finite f32, as its message prints it. */
const showNonFinite = (v) => (Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf');

/** An id as a Map key: 1 and "1" are different ids. */
const idKey = (id) => `${typeof id}:${id}`;

/** The first NaN or infinity of `rows`, refused with the Rust message (row counted from 0). */
function checkFinite(rows, width, isF16) {
  for (let i = 0; i < rows.length; i++) {
    let value;
    if (isF16) {
      const h = rows[i];
      if ((h & F16_EXPONENT) !== F16_EXPONENT) continue;
      value = (h & 0x3ff) !== 0 ? NaN : (h & 0x8000 ? -Infinity : Infinity);
    } else {
      const v = rows[i];
      // `v - v` is 0 for every finite v and NaN otherwise.
      if (v - v === 0) continue;
      value = v;
    }
    throw new RqvaeError('ERR_NON_FINITE', `row ${Math.floor(i / width)}, column ${i % width} is ${showNonFinite(value)}: embeddings must be finite numbers`);
  }
}

function checkUniqueIds(ids) {
  const rowOf = new Map();
  for (let row = 0; row < ids.length; row++) {
    const key = idKey(ids[row]);
    const first = rowOf.get(key);
    if (first !== undefined) {
      throw new RqvaeError('ERR_IDS', `id ${JSON.stringify(ids[row])} is given to rows ${first} and ${row}; ids must be unique`);
    }
    rowOf.set(key, row);
  }
}

/** Without ids, rows are numbered from the table's size: refused if such a number is taken. */
function checkRowNumbers(existingIds, size, n) {
  // The lowest taken number, as the Rust side finds it (in row order).
  let taken = Infinity;
  for (const id of existingIds) {
    if (typeof id === 'number' && id >= size && id < size + n && id < taken) taken = id;
  }
  if (taken !== Infinity) {
    throw new RqvaeError('ERR_IDS', `without ids, new rows are numbered from ${size} (the table's size), but id ${taken} is already in the table; give the new items' ids`);
  }
}

/**
 * Assigns `rows` in batches of `batchSize` (reassign-changed off), synchronously: nothing else
 * runs on the table meanwhile. Returns each batch's report as Rust gives it (snake_case JSON
 * parsed), for js/add-reports.js to combine.
 * @param {object} table the WasmIdTable (of the running instance)
 * @param {object} encoder the WasmEncoder (same instance)
 * @param {{ rows: Float32Array | Uint16Array, n: number, width: number, isF16: boolean,
 *   ids: (number|string)[] | undefined, batchSize: number,
 *   toF32: (bits: Uint16Array) => Float32Array }} input
 */
export function assignInBatches(table, encoder, { rows, n, width, isF16, ids, batchSize, toF32 }) {
  // One call's refusals, in its order: rows, then row numbers, then model, then duplicate ids.
  checkFinite(rows, width, isF16);
  if (ids === undefined && table.size > 0) {
    const existing = JSON.parse(table.entriesJson()).map((entry) => entry.id);
    checkRowNumbers(existing, table.size, n);
  }
  table.checkModel(encoder);
  if (ids !== undefined) checkUniqueIds(ids);

  const reports = [];
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const slice = rows.subarray(start * width, end * width);
    const values = isF16 ? toF32(slice) : slice;
    const batchIds = ids?.slice(start, end);
    reports.push(JSON.parse(table.assign(encoder, values, width, batchIds ? JSON.stringify(batchIds) : '', false)));
  }
  return reports;
}
