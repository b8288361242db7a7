// The "Explore prefixes" section: the zoomable icicle, the details of the selected prefix and
// the item search. It holds the view's state (zoom, selection, the tab stop, the searched item);
// the page hands it each new result.

import { hideError } from './alerts.js';
import { el } from './elements.js';
import { baseName, download, tableBase } from './export.js';
import { count, fmt } from './format.js';
import { drawIcicle } from './icicle.js';
import { fullToken, itemLabel, itemList, movedFrom, nearestToken } from './item-rows.js';
import { highlightRows, initMap, prefixText, showMapRun } from './map-view.js';
import { ancestors, buildTree } from './prefix-tree.js';
import { LETTERS, prefixToken, toCsv, toJsonl } from './stats.js';

const ITEM_LIST_LIMIT = 200;

const $ = (id) => document.getElementById(id);
const ui = {
  namesSave: $('names-save'),
  namesLoad: $('names-load'),
  namesStatus: $('names-status'),
  search: $('search'),
  searchResults: $('search-results'),
  searchStatus: $('search-status'),
  crumbs: $('crumbs'),
  chart: $('chart'),
  details: $('details'),
};

let result = null; // the run shown (see worker.js)
let root = null; // the prefix tree (prefix-tree.js)
let nodesByKey = new Map();
let zoom = null; // the node the chart is zoomed to
let selected = null; // the node listed in the details panel
let active = null; // the node that holds the chart's tab stop
let picked = null; // { row, leaf } chosen in the search or an ID table list
let names = new Map(); // the editor's prefix names: prefix key ("51", "51/3") → name
let send = null; // posts a request to the worker (see initNames)
let likeThis = null; // the worker's answer for the picked item: { row, neighbours } or { row, unavailable }

/** A prefix's name as shown: the editor's, else the one from its titles (or none). */
function applyNames() {
  for (const node of nodesByKey.values()) node.name = names.get(node.key) ?? null;
}

/** Shows a new run: the whole hierarchy, its root selected, the search cleared. */
export function showExplore(res) {
  result = res;
  ({ root, nodesByKey } = buildTree(res.tree));
  for (const { key, label } of res.labels) {
    const node = nodesByKey.get(key);
    if (node && label) node.label = label;
  }
  // An item added to the table keeps the editor's names; a new run starts without.
  if (!res.added) names = new Map();
  applyNames();
  showMapRun(res);
  ui.namesSave.disabled = false;
  ui.namesLoad.disabled = false;
  ui.namesStatus.textContent = '';
  zoom = root;
  selected = root;
  active = root;
  picked = null;
  likeThis = null;
  ui.search.disabled = false;
  ui.search.value = '';
  ui.searchResults.hidden = true;
  ui.searchStatus.textContent = '';
  renderChart();
  renderDetails();
}

// ---------------------------------------------------------------------------------------------
// The chart

export function renderChart() {
  if (!root) return;
  const chartHadFocus = ui.chart.contains(document.activeElement);
  const width = Math.max(320, ui.chart.clientWidth);
  const height = Math.max(420, Math.min(720, window.innerHeight - 200));
  const pathKeys = new Set(picked ? ancestors(picked.leaf).map((a) => a.key) : []);
  ui.chart.replaceChildren(drawIcicle({ zoom, active, selected, pathKeys, levels: result.levels, width, height }));
  ui.details.style.maxHeight = `${height}px`;
  renderCrumbs();
  if (chartHadFocus) focusActive();
}

// ---------------------------------------------------------------------------------------------
// Navigation: zoom, selection and the chart's keyboard

function renderCrumbs() {
  const chain = ancestors(zoom).reverse();
  ui.crumbs.replaceChildren(...chain.flatMap((node, i) => {
    const text = node.depth === 0
      ? `All (${fmt(node.value)})`
      : `<${LETTERS[node.depth - 1]}_${node.data.code}> (${fmt(node.value)})`;
    const b = el('button', {
      type: 'button', class: 'crumb', 'aria-current': i === chain.length - 1 ? 'location' : null,
      onclick: () => selectNode(node, { zoomTo: 'self' }),
    }, text);
    return i === 0 ? [b] : [el('span', { class: 'sep', 'aria-hidden': 'true' }, '›'), b];
  }));
}

function chartElement(node) {
  return ui.chart.querySelector(`g.node[data-key="${node.key}"]`);
}

function focusActive() {
  const g = active && chartElement(active);
  g?.focus();
}

/** Makes `node` visible in the chart, zooming out or in as needed. */
function reveal(node) {
  const within = ancestors(node).includes(zoom);
  if (!within) zoom = node.parent ?? root;
  renderChart();
  if (!chartElement(node)) {
    zoom = node.parent ?? node;
    renderChart();
  }
  if (!chartElement(node)) {
    zoom = node;
    renderChart();
  }
}

/**
 * Selects a prefix: lists its items and moves the tab stop to it. zoomTo: 'self' zooms into it
 * (if it has children), 'parent' zooms to its parent, 'none' only reveals it.
 */
function selectNode(node, { zoomTo = 'self', keepPicked = false, focus = false } = {}) {
  if (!node) return;
  if (!keepPicked) picked = null;
  selected = node;
  active = node;
  if (zoomTo === 'self') zoom = node.children ? node : node.parent ?? root;
  else if (zoomTo === 'parent') zoom = node.parent ?? root;
  reveal(node);
  renderDetails();
  if (focus) focusActive();
}

function onNodeActivate(node) {
  if (node === zoom && node.parent) selectNode(node.parent, { zoomTo: 'self', focus: true });
  else selectNode(node, { zoomTo: 'self', focus: true });
}

function onChartKey(event) {
  const g = event.target.closest?.('g.node');
  if (!g) return;
  const node = nodesByKey.get(g.dataset.key);
  let target = null;
  switch (event.key) {
    case 'Enter':
    case ' ':
      event.preventDefault();
      onNodeActivate(node);
      return;
    case 'Escape':
      if (zoom.parent) {
        event.preventDefault();
        selectNode(zoom.parent, { zoomTo: 'self', focus: true });
      }
      return;
    case 'ArrowDown':
    case 'ArrowUp': {
      const siblings = node.parent?.children ?? [node];
      const i = siblings.indexOf(node) + (event.key === 'ArrowDown' ? 1 : -1);
      target = siblings[i] ?? null;
      break;
    }
    case 'ArrowRight':
      target = node.children?.[0] ?? null;
      break;
    case 'ArrowLeft':
      target = node.parent ?? null;
      break;
    case 'Home':
      target = root;
      break;
    default:
      return;
  }
  event.preventDefault();
  if (!target) return;
  active = target;
  reveal(target);
  focusActive();
}

ui.chart.addEventListener('click', (event) => {
  const g = event.target.closest?.('g.node');
  if (g) onNodeActivate(nodesByKey.get(g.dataset.key));
});
ui.chart.addEventListener('keydown', onChartKey);
ui.chart.addEventListener('focusin', (event) => {
  const g = event.target.closest?.('g.node');
  if (!g) return;
  const node = nodesByKey.get(g.dataset.key);
  if (node && node !== active) {
    chartElement(active)?.setAttribute('tabindex', '-1');
    active = node;
    g.setAttribute('tabindex', '0');
  }
});

/** Selects the prefix `codes` (e.g. a collision group from the summary), zoomed to its parent. */
export function selectPrefix(codes) {
  selectNode(nodesByKey.get(codes.join('/')), { zoomTo: 'parent' });
}

// ---------------------------------------------------------------------------------------------
// Details panel

/** Up to `limit` item rows under `node` (in chart order), with `extra` first if it is under it. */
function rowsOf(node, limit = Infinity, extra = null) {
  const range = result.tree.order.subarray(node.rowStart, node.rowEnd);
  const out = [];
  const has = extra != null && range.includes(extra);
  if (has) out.push(extra);
  for (const r of range) {
    if (out.length >= limit) break;
    if (r !== extra) out.push(r);
  }
  return out;
}

function pickedNote(row) {
  const id = fullToken(result, row);
  const parts = [el('strong', {}, itemLabel(result, row)), ` (id ${result.itemIds[row]}) has the ID `, el('code', {}, id), '.'];
  const nearest = nearestToken(result, row);
  if (!id.startsWith(`${nearest}<`)) {
    const why = movedFrom(result, row) != null
      ? 'collision resolution moved it to a free last code'
      : 'it kept the ID the loaded table gave it';
    parts.push(' The model\'s nearest codes are ', el('code', {}, nearest), ` (${why}).`);
  }
  return parts;
}

function shownName(node) {
  return node.name ?? node.label ?? null;
}

/** The details' form that names a prefix (a blank name gives back the one from its titles). */
function renameForm(node) {
  const input = el('input', {
    id: 'rename-input', type: 'text', value: node.name ?? '', maxlength: 200,
    placeholder: node.label ?? 'a name for this prefix', 'aria-describedby': 'rename-help',
  });
  return el('form', {
    class: 'rename',
    onsubmit: (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (name) names.set(node.key, name);
      else names.delete(node.key);
      node.name = name || null;
      ui.namesStatus.textContent = name
        ? `${prefixToken(node.codes)} is now named “${name}”. Download the prefix names to keep them.`
        : `${prefixToken(node.codes)} shows the name from its titles again.`;
      renderChart();
      renderDetails();
      $('rename-input')?.focus();
    },
  },
  el('label', { for: 'rename-input' }, 'Name'), ' ', input, ' ',
  el('button', { type: 'submit' }, 'Save name'),
  el('p', { id: 'rename-help', class: 'note' }, 'Leave it blank to show the name from its titles.'));
}

/** The name shown for the prefix of `codes` (null if it has none). */
function prefixName(codes) {
  const node = nodesByKey.get(codes.join('/'));
  return node ? shownName(node) : null;
}

/** Downloads of the items under `node`, with the names of their prefixes. */
function selectionExports(node) {
  const file = `${baseName(result.name)}-${node.codes.map((c, i) => `${LETTERS[i]}${c}`).join('-')}`;
  const save = (format) => () => {
    const only = rowsOf(node);
    if (format === 'csv') download(toCsv(result, { only, names: prefixName }), `${file}.csv`, 'text/csv');
    else download(toJsonl(result, { only, names: prefixName }), `${file}.jsonl`, 'application/x-ndjson');
  };
  return el('p', { class: 'selection-exports' },
    `Export ${node.value === 1 ? 'this item' : `these ${count(node.value, 'item')}`} with the names of their prefixes: `,
    el('button', { type: 'button', id: 'export-prefix-csv', onclick: save('csv') }, 'CSV'), ' ',
    el('button', { type: 'button', id: 'export-prefix-jsonl', onclick: save('jsonl') }, 'JSONL'));
}

/** The worker's "items like this one" for a picked item (ignored once another is picked). */
export function onNeighbours(msg) {
  if (!picked || picked.row !== msg.row) return;
  likeThis = msg;
  renderDetails();
}

/** The picked item's nearest items by embedding, each with its ID and cosine. */
function likeThisList(row) {
  if (!likeThis || likeThis.row !== row) return el('p', { class: 'muted small' }, 'Finding items like this one…');
  if (likeThis.unavailable) return el('p', { class: 'muted small' }, `Items like this one: not available (${likeThis.unavailable}).`);
  return el('div', { class: 'like-this' },
    el('h4', { id: 'like-this-h' }, 'Items like this one'),
    el('ol', { 'aria-labelledby': 'like-this-h' }, likeThis.neighbours.map((n) => el('li', {},
      el('button', { type: 'button', class: 'link', dataset: { row: n.row }, onclick: () => pickItem(n.row) }, itemLabel(result, n.row)),
      ' ', el('span', { class: 'tok' }, fullToken(result, n.row)),
      el('span', { class: 'muted small' }, ` cosine ${n.cosine.toFixed(3)}`)))));
}

/** Wires the prefix-name downloads and uploads; `post` sends a request to the worker. */
export function initNames(post) {
  send = post;
  ui.namesSave.addEventListener('click', () => {
    hideError();
    send({ type: 'names', op: 'save', names: Object.fromEntries(names) });
  });
  ui.namesLoad.addEventListener('change', () => {
    const file = ui.namesLoad.files?.[0];
    hideError();
    if (file) send({ type: 'names', op: 'load', file });
    ui.namesLoad.value = '';
  });
}

/** The worker's answer to a names request: the file to download, or the names read. */
export function onNames(msg) {
  if (msg.type === 'names-file') {
    download(msg.text, `${tableBase()}-prefix-names.json`, 'application/json');
    ui.namesStatus.textContent = `Downloaded ${count(names.size, 'prefix name')}.`;
    return;
  }
  names = new Map(msg.names);
  applyNames();
  renderChart();
  renderDetails();
  ui.namesStatus.textContent = `Loaded ${count(names.size, 'prefix name')} from ${msg.file}.`;
}

function renderDetails() {
  if (!selected) return;
  const node = selected;
  const heading = node.depth === 0 ? 'All items' : `Prefix ${prefixToken(node.codes)}`;
  const pct = (100 * node.value) / root.value;
  const share = pct < 0.1 ? '< 0.1' : pct.toFixed(1);
  const parts = [
    el('h3', { id: 'details-h' }, heading),
    shownName(node) ? el('p', { id: 'details-label', class: 'prefix-label' }, shownName(node)) : null,
    node.name && node.label ? el('p', { class: 'muted small' }, `From its titles: ${node.label}`) : null,
    node.depth > 0 ? renameForm(node) : null,
    el('p', { id: 'details-count', dataset: { count: node.value } },
      `${count(node.value, 'item')} (${share} % of ${fmt(root.value)})`),
  ];
  if (picked) {
    parts.push(el('div', { class: 'picked' },
      el('p', {}, pickedNote(picked.row)),
      el('p', { class: 'muted small' }, 'Its path (the model\'s nearest codes) is outlined in the chart; below are the items sharing its prefixes.'),
      likeThisList(picked.row)));
  }
  if (node.children) {
    const kids = node.children;
    parts.push(el('h4', {}, `${fmt(kids.length)} child prefix${kids.length === 1 ? '' : 'es'}`));
    parts.push(el('ul', { class: 'kids', 'aria-label': `Child prefixes of ${heading}` }, kids.map((k) => el('li', {},
      el('button', { type: 'button', class: 'link', onclick: () => selectNode(k, { zoomTo: 'self', focus: false }) },
        `<${LETTERS[k.depth - 1]}_${k.data.code}>`), shownName(k) ? el('span', { class: 'muted' }, ` “${shownName(k)}”`) : null, ` ${fmt(k.value)}`))));
  }
  if (node.depth > 0) parts.push(selectionExports(node));
  const hitRow = picked?.row ?? null;
  const rows = rowsOf(node, ITEM_LIST_LIMIT, hitRow);
  let title = 'Item';
  if (node.children) title = 'Items';
  else if (node.value > 1) title = 'Items sharing all codes (collision group; their IDs tell them apart)';
  parts.push(el('h4', {}, title));
  parts.push(...itemList(result, rows, node.value, `Items of ${heading}`, { hitRow }));
  if (picked && !node.children && node.parent?.depth > 0) {
    const own = new Set(rowsOf(node));
    const mates = rowsOf(node.parent).filter((r) => !own.has(r));
    const parent = prefixToken(node.parent.codes);
    parts.push(el('h4', {}, `Also under ${parent} (${fmt(mates.length)} more)`));
    if (mates.length > 0) parts.push(...itemList(result, mates.slice(0, ITEM_LIST_LIMIT), mates.length, `Other items under ${parent}`));
    else parts.push(el('p', { class: 'muted small' }, 'No other item shares these two codes.'));
  }
  ui.details.replaceChildren(...parts.filter((p) => p != null));
  ui.details.querySelector('li.hit')?.scrollIntoView({ block: 'nearest' });
  // The map lights the selected prefix's items: exactly the rows the chart groups under it.
  if (node.depth === 0) highlightRows(null);
  else highlightRows(result.tree.order.subarray(node.rowStart, node.rowEnd), prefixText(node.codes, shownName(node)));
}

// ---------------------------------------------------------------------------------------------
// Search

let searchMatches = [];

function runSearch() {
  const q = ui.search.value.trim().toLowerCase();
  if (!result || q === '') {
    ui.searchResults.hidden = true;
    searchMatches = [];
    return;
  }
  // An id matches whole; a title matches when it holds every word of the query, in any order.
  const words = q.split(/\s+/);
  const exact = [];
  const matches = [];
  for (let i = 0; i < result.rows && matches.length < 50; i++) {
    if (String(result.itemIds[i]).toLowerCase() === q) exact.push(i);
    else {
      const title = result.titles[i].toLowerCase();
      if (words.every((w) => title.includes(w))) matches.push(i);
    }
  }
  searchMatches = [...exact, ...matches].slice(0, 50);
  ui.searchResults.replaceChildren(...(searchMatches.length === 0
    ? [el('li', { class: 'none' }, 'No item matches.')]
    : searchMatches.map((row) => el('li', {},
      el('button', { type: 'button', dataset: { row }, onclick: () => pickItem(row) },
        el('span', { class: 'id' }, String(result.itemIds[row])), ' ', itemLabel(result, row), ' ',
        el('span', { class: 'tok' }, fullToken(result, row)))))));
  ui.searchResults.hidden = false;
}

/** Shows item `row`: its leaf prefix in the chart (path outlined) and in the details panel. */
export function pickItem(row) {
  const levels = result.levels;
  const codes = Array.from(result.ids.subarray(row * levels, (row + 1) * levels));
  const leaf = nodesByKey.get(codes.join('/'));
  picked = { row, leaf };
  likeThis = null;
  send?.({ type: 'neighbours', row, k: 10 });
  ui.searchResults.hidden = true;
  selected = leaf;
  active = leaf;
  zoom = ancestors(leaf).find((a) => a.depth === 1) ?? root;
  reveal(leaf);
  renderDetails();
  const others = leaf.value - 1;
  ui.searchStatus.textContent = `${itemLabel(result, row)}: ${fullToken(result, row)}; ${fmt(others)} other item${others === 1 ? '' : 's'} share${others === 1 ? 's' : ''} its nearest codes ${nearestToken(result, row)}.`;
}

ui.search.addEventListener('input', runSearch);
initMap({
  prefixName,
  onPickRow: (row) => pickItem(row),
  onSelectPrefix: (codes) => selectNode(nodesByKey.get(codes.join('/')), { zoomTo: 'self' }),
});
ui.search.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') {
    event.preventDefault();
    runSearch();
    if (searchMatches.length > 0) pickItem(searchMatches[0]);
  } else if (event.key === 'ArrowDown') {
    const first = ui.searchResults.querySelector('button');
    if (first) {
      event.preventDefault();
      first.focus();
    }
  } else if (event.key === 'Escape') {
    ui.searchResults.hidden = true;
  }
});
ui.searchResults.addEventListener('keydown', (event) => {
  const buttons = [...ui.searchResults.querySelectorAll('button')];
  const i = buttons.indexOf(document.activeElement);
  if (event.key === 'ArrowDown' && i >= 0) {
    event.preventDefault();
    buttons[Math.min(buttons.length - 1, i + 1)].focus();
  } else if (event.key === 'ArrowUp' && i >= 0) {
    event.preventDefault();
    if (i === 0) ui.search.focus();
    else buttons[i - 1].focus();
  } else if (event.key === 'Escape') {
    ui.searchResults.hidden = true;
    ui.search.focus();
  }
});
