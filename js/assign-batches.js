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
// Why the report is the same: counts add up; the uniqueness shares are over the whole table and
// come from the last batch; the cost means are per-batch means weighted back into sums (equal to
// one call's up to float rounding, ~1e-15). The moved-rows means need each batch's number of
// rows whose assigned codes differ from their nearest ones, which the report does not give: new
// rows count in `moved`; kept rows are counted here from the table's entries (their nearest codes
// are the entry's unless the row is reported `changed`, and then the canonical encode says).

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
function checkRowNumbers(existing, size, n) {
  // The lowest taken number, as the Rust side finds it (in row order).
  let taken = Infinity;
  for (const { id } of existing.values()) {
    if (typeof id === 'number' && id >= size && id < size + n && id < taken) taken = id;
  }
  if (taken !== Infinity) {
    throw new RqvaeError('ERR_IDS', `without ids, new rows are numbered from ${size} (the table's size), but id ${taken} is already in the table; give the new items' ids`);
  }
}

/** The report of all batches, as one call over all the rows would give it (snake_case, as Rust's). */
function combine(reports, movedRows) {
  const last = reports[reports.length - 1];
  const sum = (key) => reports.reduce((total, r) => total + r[key], 0);
  const rows = sum('rows');
  let cost = null;
  if (reports.every((r) => r.cost)) {
    const byRows = (key) => reports.reduce((total, r) => total + r.cost[key] * r.rows, 0) / rows;
    const moved = movedRows.reduce((a, b) => a + b, 0);
    const byMoved = (key) => (moved === 0 ? 0 : reports.reduce((total, r, i) => total + r.cost[key] * movedRows[i], 0) / moved);
    cost = {
      cosine_nearest: byRows('cosine_nearest'),
      cosine_assigned: byRows('cosine_assigned'),
      moved_cosine_nearest: byMoved('moved_cosine_nearest'),
      moved_cosine_assigned: byMoved('moved_cosine_assigned'),
    };
  }
  return {
    rows,
    added: sum('added'),
    kept: sum('kept'),
    changed: reports.flatMap((r) => r.changed),
    reassigned_changed: sum('reassigned_changed'),
    moved: sum('moved'),
    suffixed: sum('suffixed'),
    table_items: last.table_items,
    unique_nearest: last.unique_nearest,
    unique_assigned: last.unique_assigned,
    unique_full: last.unique_full,
    cost,
  };
}

const sameCodes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Assigns `rows` in batches of `batchSize` (reassign-changed off), synchronously: nothing else
 * runs on the table meanwhile. Returns the combined report (snake_case).
 * @param {object} table the WasmIdTable (of the running instance)
 * @param {object} encoder the WasmEncoder (same instance)
 * @param {{ rows: Float32Array | Uint16Array, n: number, width: number, isF16: boolean,
 *   ids: (number|string)[] | undefined, batchSize: number, levels: number,
 *   toF32: (bits: Uint16Array) => Float32Array }} input
 */
export function assignInBatches(table, encoder, { rows, n, width, isF16, ids, batchSize, levels, toF32 }) {
  // One call's refusals, in its order: rows, then row numbers, then model, then duplicate ids.
  checkFinite(rows, width, isF16);
  const existing = new Map();
  if (table.size > 0) {
    for (const entry of JSON.parse(table.entriesJson())) existing.set(idKey(entry.id), entry);
  }
  if (ids === undefined) checkRowNumbers(existing, table.size, n);
  table.checkModel(encoder);
  if (ids !== undefined) checkUniqueIds(ids);

  const reports = [];
  const movedRows = [];
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const slice = rows.subarray(start * width, end * width);
    const values = isF16 ? toF32(slice) : slice;
    const batchIds = ids?.slice(start, end);
    const report = JSON.parse(table.assign(encoder, values, width, batchIds ? JSON.stringify(batchIds) : '', false));
    reports.push(report);
    movedRows.push(report.cost ? report.moved + movedKept(encoder, existing, report, batchIds, values, width, levels) : 0);
  }
  return combine(reports, movedRows);
}

/**
 * Kept rows of a batch whose assigned codes differ from their nearest ones. A kept entry never
 * changes here, so the entries read before the first batch still hold.
 */
function movedKept(encoder, existing, report, batchIds, values, width, levels) {
  if (!batchIds || report.kept === 0) return 0;
  const changed = new Set(report.changed.map(idKey));
  let moved = 0;
  const changedRows = [];
  batchIds.forEach((id, row) => {
    const entry = existing.get(idKey(id));
    if (!entry) return;
    if (changed.has(idKey(id))) changedRows.push(row);
    // Unchanged: its nearest codes are the entry's, which differ from the assigned ones
    // exactly when resolution moved it.
    else if (entry.reassigned_from !== null) moved += 1;
  });
  if (changedRows.length > 0) {
    const picked = new Float32Array(changedRows.length * width);
    changedRows.forEach((row, i) => picked.set(values.subarray(row * width, (row + 1) * width), i * width));
    const nearest = encoder.encodeCpu(picked, width, 0);
    changedRows.forEach((row, i) => {
      const assigned = existing.get(idKey(batchIds[row])).codes.slice(0, levels);
      if (!sameCodes(assigned, Array.from(nearest.subarray(i * levels, (i + 1) * levels)))) moved += 1;
    });
  }
  return moved;
}
