// What a box on the map selected: how many items, the prefixes they fall in (with their names;
// each one selects its prefix in the chart), the items themselves, and downloads of them.

import { el } from './elements.js';
import { baseName, download } from './export.js';
import { count, fmt } from './format.js';
import { fullToken, itemLabel } from './item-rows.js';
import { prefixToken, toCsv, toJsonl } from './stats.js';

const ITEM_LIMIT = 200;
const PREFIX_LIMIT = 24;

/**
 * Lists `rows` (item rows) of `result` in `container`. `hooks`: `prefixName(codes)`,
 * `onPickRow(row)`, `onSelectPrefix(codes)`; `how` says how they were selected.
 */
export function renderSelection(container, { rows, result, how, hooks }) {
  if (rows.length === 0) {
    container.replaceChildren(el('p', { id: 'map-selection-count', class: 'note', dataset: { count: 0 } },
      `No items ${how}: nothing to list or export. Drag a box over points (Shift + drag), or zoom in and use “Select the items in view”.`));
    return;
  }
  const { levels } = result;
  // Level-A prefixes by how many of the selection they hold, then by code.
  const byPrefix = new Map();
  for (const r of rows) {
    const a = result.ids[r * levels];
    byPrefix.set(a, (byPrefix.get(a) ?? 0) + 1);
  }
  const prefixes = [...byPrefix].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  const save = (format) => () => {
    const file = `${baseName(result.name)}-map-selection`;
    const options = { only: rows, names: hooks.prefixName };
    if (format === 'csv') download(toCsv(result, options), `${file}.csv`, 'text/csv');
    else download(toJsonl(result, options), `${file}.jsonl`, 'application/x-ndjson');
  };
  container.replaceChildren(
    el('h4', { id: 'map-selection-count', dataset: { count: rows.length } }, `${count(rows.length, 'item')} ${how}`),
    el('p', { class: 'selection-exports' }, 'Export them with the names of their prefixes: ',
      el('button', { type: 'button', id: 'map-export-csv', onclick: save('csv') }, 'CSV'), ' ',
      el('button', { type: 'button', id: 'map-export-jsonl', onclick: save('jsonl') }, 'JSONL')),
    el('h5', { id: 'map-prefixes-h' }, `In ${count(prefixes.length, 'level-A prefix', 'level-A prefixes')}`),
    el('ul', { class: 'kids', id: 'map-prefixes', 'aria-labelledby': 'map-prefixes-h' }, prefixes.slice(0, PREFIX_LIMIT).map(([a, n]) => {
      const name = hooks.prefixName([a]);
      return el('li', {},
        el('button', { type: 'button', class: 'link', dataset: { prefix: a }, onclick: () => hooks.onSelectPrefix([a]) }, prefixToken([a])),
        name ? el('span', { class: 'muted' }, ` “${name}”`) : null, ` ${fmt(n)}`);
    })),
    prefixes.length > PREFIX_LIMIT ? el('p', { class: 'muted small' }, `and ${fmt(prefixes.length - PREFIX_LIMIT)} more`) : null,
    el('h5', { id: 'map-items-h' }, rows.length > ITEM_LIMIT ? `The first ${fmt(ITEM_LIMIT)} items` : 'Items'),
    el('ul', { class: 'map-items', id: 'map-items', 'aria-labelledby': 'map-items-h' }, rows.slice(0, ITEM_LIMIT).map((r) => el('li', {},
      el('button', { type: 'button', class: 'link', dataset: { row: r }, onclick: () => hooks.onPickRow(r) }, itemLabel(result, r)),
      ' ', el('span', { class: 'tok' }, fullToken(result, r))))),
  );
}
