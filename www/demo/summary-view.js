// The run's summary: what was read and how, code usage per level, the ID table's quality
// (id-table-view.js) and the largest groups of items sharing all their nearest codes.

import { el } from './elements.js';
import { fmt, percent } from './format.js';
import { tableSummary } from './id-table-view.js';
import { itemLabel } from './item-rows.js';
import { LETTERS, prefixToken } from './stats.js';

function levelTable(r) {
  const letters = LETTERS.slice(0, r.levels).toUpperCase();
  return el('table', { class: 'levels' },
    el('caption', {}, 'Code usage per level (nearest codes)'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Level'), el('th', { scope: 'col' }, 'Codes used'),
      el('th', { scope: 'col' }, 'Utilisation'), el('th', { scope: 'col' }, 'Perplexity'))),
    el('tbody', {}, r.levelStats.map((s) => el('tr', {},
      el('th', { scope: 'row' }, letters[s.level]),
      el('td', {}, `${fmt(s.used)} / ${fmt(r.codebookSize)}`),
      el('td', {}, percent(s.utilisation)),
      el('td', {}, s.perplexity.toFixed(1))))));
}

function collisionGroups(r, onGroup) {
  const letters = LETTERS.slice(0, r.levels).toUpperCase();
  const t = r.tuples;
  const groups = t.largest.length === 0
    ? el('p', { class: 'small' }, 'No collisions: every item has its own (', letters.split('').join(', '), ') tuple.')
    : el('ol', { class: 'collisions' }, t.largest.slice(0, 5).map((g) => el('li', {},
      el('button', { type: 'button', class: 'link', onclick: () => onGroup(g.codes) }, prefixToken(g.codes)),
      ` ${fmt(g.size)} items: `,
      el('span', { class: 'muted' }, g.rows.slice(0, 3).map((row) => itemLabel(r, row)).join(' · ') + (g.size > 3 ? ' …' : '')))));
  return [
    el('h3', {}, 'Largest collision groups (nearest codes)'),
    el('p', { class: 'muted small' }, t.collisionGroups === 0 ? ''
      : `${fmt(t.collisionGroups)} tuples are shared, by ${fmt(t.itemsInCollisions)} items in all; the ID table tells them apart.`),
    groups,
  ];
}

/** Renders the summary of result `r` into `container`; `onGroup(codes)` opens a collision group. */
export function renderSummary(container, r, { onGroup }) {
  const c = r.model.config;
  const secs = r.encodeMs / 1000;
  const source = r.titlesName ? `${r.name} + ${r.titlesName}` : r.name;
  const t = r.tuples;
  container.replaceChildren(
    el('dl', { class: 'facts' },
      el('dt', {}, 'Items'), el('dd', { id: 'sum-items', dataset: { rows: r.rows } }, `${fmt(r.rows)} (${r.dim}-d ${r.dtype})`),
      el('dt', {}, 'Source'), el('dd', {}, source),
      r.text && [el('dt', {}, 'Text model'), el('dd', { id: 'sum-text' },
        `${r.text.model}: titles embedded in this browser in ${(r.text.embedMs / 1000).toFixed(2)} s`)],
      el('dt', {}, 'Model'), el('dd', {}, `${r.model.isDefault ? (r.text ? 'default for titles (minilm.safetensors)' : 'default') : r.model.name} (${c.levels} × ${c.codebook_size} codes)`),
      el('dt', {}, 'Backend'), el('dd', {},
        el('strong', { id: 'backend-used' }, r.backend),
        r.backend === 'webgpu' ? ' (GPU)' : ' (WebAssembly on the CPU)',
        r.requestedBackend === 'auto' ? ', chosen by Auto' : ''),
      el('dt', {}, 'Encoding'), el('dd', { id: 'sum-time' },
        `${secs.toFixed(2)} s (${fmt(Math.round(r.rows / Math.max(secs, 1e-3)))} items/s), reading and checking the file as it went; `
        + `ID table ${(r.tableMs / 1000).toFixed(2)} s; set-up ${(r.setupMs / 1000).toFixed(2)} s`),
      el('dt', {}, 'Unique tuples'), el('dd', { id: 'sum-unique' },
        `${fmt(t.unique)} of ${fmt(r.rows)} (${percent(t.uniqueFraction)})`)),
    levelTable(r),
    ...tableSummary(r),
    ...collisionGroups(r, onGroup),
  );
}
