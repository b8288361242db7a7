// The ID table on the page: its quality in the summary, and the "ID table" section, which lists
// the run's items by what the table did with them (new, kept, moved by collision resolution,
// told apart by the disambiguation code, embedding changed). The table itself is made in the
// worker (id-table-job.js); `result.table` carries what the page shows of it.

import { el } from './elements.js';
import { count, fmt, percent } from './format.js';
import { assignedLast, codeToken, itemList, movedFrom, nearestToken } from './item-rows.js';
import { LETTERS } from './stats.js';

const LIST_LIMIT = 200;

const $ = (id) => document.getElementById(id);
const ui = { body: $('id-table-body') };

let shown = null; // { result, onPick } of the list on view
let filter = null; // the chosen list (a key of LISTS)

/** The lists the section offers: rows of `result.table.rows`, and the note each row gets. */
const LISTS = {
  moved: {
    label: 'Moved by collision resolution',
    empty: 'No item of this run was moved: none landed on an (A, B, C) already taken, or none could move.',
    note: (r, row) => {
      const last = r.levels - 1;
      return `nearest ${codeToken(last, movedFrom(r, row))} → assigned ${codeToken(last, assignedLast(r, row))}`;
    },
  },
  suffixed: {
    label: 'Told apart by the disambiguation code',
    empty: 'No item of this run needed a disambiguation code above 0.',
    note: (r, row) => `${LETTERS[r.levels]} = ${r.table.ids[row * (r.levels + 1) + r.levels]}: its (A, B, C) was taken`,
  },
  new: {
    label: 'New to the table',
    empty: 'Every item of this run was already in the table.',
    note: () => null,
  },
  kept: {
    label: 'Already in the table (kept their ID)',
    empty: 'No item of this run was in the table before.',
    note: (r, row) => (movedFrom(r, row) == null ? 'kept its ID' : `kept its ID (moved off its nearest ${codeToken(r.levels - 1, movedFrom(r, row))} when it was added)`),
  },
  changed: {
    label: 'Kept their ID, but their embedding changed',
    empty: 'No kept item\'s embedding now gives other codes.',
    note: (r, row) => `kept its ID; the model's nearest codes are now ${nearestToken(r, row)}`,
  },
};

/** One line for the status bar: what the run did to the table. */
export function tableStatus(r) {
  const { report, churn } = r.table;
  const parts = [`${fmt(report.added)} new`];
  if (r.table.loaded) parts.push(`${fmt(report.kept)} kept`, `${count(churn.changed, 'existing ID')} changed`);
  if (report.moved > 0) parts.push(`${fmt(report.moved)} moved by collision resolution`);
  return `ID table: ${parts.join(', ')}.`;
}

function balanceTable(r) {
  const letters = LETTERS.slice(0, r.levels).toUpperCase();
  const { quality } = r.table;
  return el('table', { class: 'balance' },
    el('caption', {}, 'Balance per level (the table\'s assigned codes)'),
    el('thead', {}, el('tr', {}, ...['Level', 'Used', 'Perplexity', 'Gini', 'Entropy ratio'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, quality.levels.map((s, l) => el('tr', {},
      el('th', { scope: 'row' }, letters[l]),
      el('td', {}, `${fmt(s.used)} / ${fmt(r.codebookSize)}`),
      el('td', {}, s.perplexity.toFixed(1)),
      el('td', { dataset: { gini: s.gini } }, s.gini.toFixed(3)),
      el('td', { dataset: { entropyRatio: s.entropyRatio } }, s.entropyRatio.toFixed(3))))));
}

/** The reconstruction cost of resolution, as a dt/dd pair (none for a model without a decoder). */
function costFacts(cost, moved) {
  if (!cost) return [];
  const c = (v) => v.toFixed(4);
  let text = `mean cosine to the input: ${c(cost.cosineNearest)} decoded from the nearest codes, ${c(cost.cosineAssigned)} from the assigned`;
  if (moved > 0) text += `; moved items ${c(cost.movedCosineNearest)} → ${c(cost.movedCosineAssigned)}`;
  return [el('dt', {}, 'Reconstruction'), el('dd', { id: 'sum-cost' }, text)];
}

/** The summary's ID table part: counts of the run, uniqueness, collisions, balance and churn. */
export function tableSummary(r) {
  const t = r.table;
  const { report, quality: q, churn, loaded } = t;
  const facts = [
    el('dt', {}, 'Table'), el('dd', { id: 'sum-table', dataset: { size: t.size } }, loaded
      ? `${loaded.name} (${count(loaded.items, 'item')}) grown to ${count(t.size, 'item')}`
      : `new, ${count(t.size, 'item')}`),
    el('dt', {}, 'New items'), el('dd', { id: 'sum-new', dataset: { count: report.added } }, fmt(report.added)),
  ];
  if (loaded) {
    facts.push(
      el('dt', {}, 'Already in the table'), el('dd', { id: 'sum-kept', dataset: { count: report.kept } },
        `${fmt(report.kept)} (they keep their ID)`),
      el('dt', {}, 'Existing IDs changed'), el('dd', { id: 'sum-churn', dataset: { changed: churn.changed, common: churn.common } },
        `${fmt(churn.changed)} of ${fmt(churn.common)} (churn ${percent(churn.churn, 2)}, loaded table → updated table)`),
      el('dt', {}, 'Embedding changed'), el('dd', { id: 'sum-changed', dataset: { count: report.changed.length } },
        `${fmt(report.changed.length)} kept item${report.changed.length === 1 ? ' maps' : 's map'} to other codes now (IDs unchanged)`),
    );
  }
  facts.push(
    el('dt', {}, '3-code unique'), el('dd', { id: 'sum-unique3', dataset: { before: q.uniqueNearestFraction, after: q.uniqueFraction } },
      `${percent(q.uniqueNearestFraction, 2)} before collision resolution, ${percent(q.uniqueFraction, 2)} after`),
    el('dt', {}, 'Full IDs unique'), el('dd', { id: 'sum-unique-full', dataset: { fraction: q.uniqueFullFraction } },
      `${percent(q.uniqueFullFraction, 2)} (with the disambiguation code ${LETTERS[r.levels].toUpperCase()})`),
    el('dt', {}, 'Collision-free'), el('dd', { id: 'sum-collision-free', dataset: { rate: q.collisionFreeRate } },
      `${percent(q.collisionFreeRate, 2)} of items have an (A, B, C) of their own`),
    el('dt', {}, 'Largest collision group'), el('dd', { id: 'sum-largest', dataset: { size: q.largestGroup } },
      q.largestGroup > 1 ? `${fmt(q.largestGroup)} items share one (A, B, C) after resolution`
        : '1: no two items share an (A, B, C) after resolution'),
    el('dt', {}, 'Moved'), el('dd', { id: 'sum-moved', dataset: { count: report.moved } },
      `${fmt(report.moved)} this run (${fmt(q.moved)} in the table) to a free last code`),
    el('dt', {}, 'Disambiguated'), el('dd', { id: 'sum-suffixed', dataset: { count: report.suffixed } },
      `${fmt(report.suffixed)} this run (${fmt(q.suffixed)} in the table) with ${LETTERS[r.levels].toUpperCase()} > 0`),
    ...costFacts(report.cost, report.moved),
  );
  const notes = [];
  if (loaded && t.idsAreRowNumbers) {
    notes.push(el('p', { class: 'note', id: 'sum-row-ids' },
      `${r.name} has no ids, so row i is item i of the table. Give a titles file to name the rows.`));
  }
  return [
    el('h3', {}, 'ID table'),
    el('dl', { class: 'facts', id: 'sum-id-table' }, facts),
    ...notes,
    balanceTable(r),
  ];
}

function renderList() {
  const { result: r, onPick } = shown;
  const list = LISTS[filter];
  const rows = r.table.rows[filter];
  const parts = [];
  if (rows.length === 0) parts.push(el('p', { class: 'muted small', id: 'table-list-empty' }, list.empty));
  else {
    parts.push(...itemList(r, Array.from(rows.subarray(0, LIST_LIMIT)), rows.length, list.label, {
      onPick, note: (row) => list.note(r, row), more: 'download the table to see all',
    }));
  }
  $('table-list').replaceChildren(...parts.filter((p) => p != null));
  $('table-list-status').textContent = `${list.label}: ${count(rows.length, 'item')}.`;
}

/** Fills the ID table section for result `r`; `onPick(row)` shows an item in the chart. */
export function renderTableItems(r, { onPick }) {
  shown = { result: r, onPick };
  const rows = r.table.rows;
  const keys = Object.keys(LISTS).filter((k) => r.table.loaded || (k !== 'kept' && k !== 'changed'));
  if (!keys.includes(filter)) filter = null;
  filter ??= rows.moved.length > 0 ? 'moved' : 'new';
  const select = el('select', { id: 'table-filter', onchange: (e) => {
    filter = e.target.value;
    renderList();
  } }, keys.map((k) => el('option', { value: k, selected: k === filter }, `${LISTS[k].label} (${fmt(rows[k].length)})`)));
  const header = r.table.loaded
    ? `This run added ${count(r.table.report.added, 'item')} to ${r.table.loaded.name} and kept the ${count(r.table.report.kept, 'item')} already in it.`
    : `A new table for ${count(r.rows, 'item')}.`;
  ui.body.replaceChildren(
    el('p', { class: 'small' }, header, ' Each ID is the model\'s codes plus a disambiguation code; an item whose (A, B, C) is taken moves to its next-best free last code, or else gets the next disambiguation code.'),
    el('div', { class: 'field' }, el('label', { for: 'table-filter' }, 'List the items'), select),
    el('p', { id: 'table-list-status', class: 'note', role: 'status' }),
    el('div', { id: 'table-list' }),
  );
  renderList();
}
