// One item as the page lists it (prefix details, search, the ID table's lists): its id, title and
// unique ID, and where collision resolution moved it. `result` is a run's result (worker.js):
// `ids` holds the model's nearest codes (N × levels), `table.ids` the unique IDs (N × levels+1).

import { el } from './elements.js';
import { fmt } from './format.js';
import { LETTERS, tokenOf } from './stats.js';

export function itemLabel(result, row) {
  const title = result.titles[row];
  return title ? title : `(untitled) id ${result.itemIds[row]}`;
}

/** The item's unique ID, e.g. <a_12><b_7><c_201><d_0>. */
export function fullToken(result, row) {
  return tokenOf(result.table.ids, row, result.levels + 1);
}

/** The model's nearest codes for the item, e.g. <a_12><b_7><c_198>. */
export function nearestToken(result, row) {
  return tokenOf(result.ids, row, result.levels);
}

/** The last-level code the item was moved off (its nearest), or null if it was not moved. */
export function movedFrom(result, row) {
  const from = result.table.reassignedFrom[row];
  return from >= 0 ? from : null;
}

/** "<c_198>" for level `level`'s code `code`. */
export function codeToken(level, code) {
  return `<${LETTERS[level]}_${code}>`;
}

/** The assigned last-level code of the item. */
export function assignedLast(result, row) {
  return result.table.ids[row * (result.levels + 1) + result.levels - 1];
}

/**
 * A list item for `row`. `hit` highlights it; `onPick` makes its title a button (shows the item
 * in the chart); `note` is extra text under the ID (else where the item was moved from, if it was).
 */
export function itemRow(result, row, { hit = false, onPick = null, note = null } = {}) {
  const label = result.titles[row] || el('i', {}, 'untitled');
  const from = movedFrom(result, row);
  const last = result.levels - 1;
  const why = note ?? (from == null ? null : `moved off its nearest ${codeToken(last, from)}`);
  return el('li', { class: hit ? 'hit' : null, 'aria-current': hit ? 'true' : null, dataset: { row } },
    el('span', { class: 'id' }, String(result.itemIds[row])),
    el('span', { class: 'title' }, onPick
      ? el('button', { type: 'button', class: 'link', onclick: () => onPick(row), title: 'Show it in the chart' }, label)
      : label),
    el('span', { class: 'tok' }, fullToken(result, row)),
    why ? el('span', { class: 'note' }, why) : null);
}

/** Up to `rows.length` item rows, then "… and N more" when `total` is larger. */
export function itemList(result, rows, total, label, { hitRow = null, onPick = null, note = null, more = 'export to see all' } = {}) {
  return [
    el('ul', { class: 'items', 'aria-label': label },
      rows.map((r) => itemRow(result, r, { hit: r === hitRow, onPick, note: note?.(r) ?? null }))),
    total > rows.length ? el('p', { class: 'muted small' }, `… and ${fmt(total - rows.length)} more (${more}).`) : null,
  ];
}
