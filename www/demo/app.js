// The demo page: file selection, progress, the summary, the zoomable prefix icicle, search and
// export. Parsing and encoding run in ./worker.js; this thread only renders.

import { InputError, checkSize, kindOf } from './parse.js';
import { LETTERS, prefixToken, toCsv, toJsonl, tokenOf } from './stats.js';

const $ = (id) => document.getElementById(id);
const fmt = (n) => n.toLocaleString('en-US');
const SVG = 'http://www.w3.org/2000/svg';
const MIN_PX = 2; // prefixes thinner than this are drawn as one "smaller prefixes" band
const ITEM_LIST_LIMIT = 200;

const ui = {
  embeddings: $('file-embeddings'),
  titles: $('file-titles'),
  model: $('file-model'),
  modelInfo: $('model-info'),
  modelReset: $('model-reset'),
  backend: $('backend'),
  webgpuNote: $('webgpu-note'),
  run: $('run'),
  sample: $('sample'),
  drop: $('drop'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  progressBar: $('progress-bar'),
  cancel: $('cancel'),
  error: $('error'),
  errorText: $('error-text'),
  errorClose: $('error-close'),
  status: $('status'),
  summary: $('summary-body'),
  exportCsv: $('export-csv'),
  exportJsonl: $('export-jsonl'),
  search: $('search'),
  searchResults: $('search-results'),
  crumbs: $('crumbs'),
  chart: $('chart'),
  details: $('details'),
};

// ---------------------------------------------------------------------------------------------
// State

let worker;
let jobCounter = 0;
let runningJob = null;
let modelCheckJob = null;
let defaultModel = null; // { name, config } of the shipped model
let userModel = null; // File of a checked user model
let userModelInfo = null;

let result = null; // the last successful run (see worker.js)
let root = null; // d3 hierarchy of prefixes
let nodesByKey = new Map();
let zoom = null; // the node the chart is zoomed to
let selected = null; // the node listed in the details panel
let active = null; // the node that holds the chart's tab stop
let picked = null; // { row, leaf } chosen in the search

// ---------------------------------------------------------------------------------------------
// Worker

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => onWorkerMessage(data);
  worker.onerror = (e) => {
    e.preventDefault?.();
    showError(`The worker failed: ${e.message || 'unknown error'}`);
    finishJob();
  };
}

function onWorkerMessage(msg) {
  switch (msg.type) {
    case 'ready':
      defaultModel = msg.model;
      ui.webgpuNote.textContent = msg.webgpu
        ? 'WebGPU is available here; Auto still uses the CPU for small sets (faster for this model).'
        : 'This browser offers no WebGPU: IDs are computed on the CPU (WebAssembly).';
      ui.webgpuNote.dataset.webgpu = String(msg.webgpu);
      if (!msg.webgpu) {
        const option = ui.backend.querySelector('option[value="webgpu"]');
        option.disabled = true;
        option.textContent = 'WebGPU (not available in this browser)';
        if (ui.backend.value === 'webgpu') ui.backend.value = 'auto';
      }
      showModel();
      document.body.dataset.ready = 'true';
      break;
    case 'fatal':
      showError(msg.message);
      ui.modelInfo.textContent = 'unavailable';
      break;
    case 'model':
      if (msg.job !== modelCheckJob) return;
      userModelInfo = msg.model;
      showModel();
      break;
    case 'model-error':
      if (msg.job !== modelCheckJob) return;
      userModel = null;
      userModelInfo = null;
      ui.model.value = '';
      showModel();
      showError(`${msg.message} — the default model stays in use.`);
      break;
    case 'progress':
      if (msg.job !== runningJob) return;
      ui.progressLabel.textContent = msg.phase === 'encode'
        ? `${msg.label}: ${fmt(msg.done)} of ${fmt(msg.total)}`
        : `${msg.label}…`;
      ui.progressBar.max = Math.max(1, msg.total);
      ui.progressBar.value = msg.done;
      break;
    case 'result':
      if (msg.job !== runningJob) return;
      finishJob();
      showResult(msg.result);
      break;
    case 'error':
      if (msg.job !== runningJob) return;
      finishJob();
      showError(msg.message);
      ui.status.textContent = result ? 'The previous results are still shown.' : '';
      break;
    case 'cancelled':
      if (msg.job !== runningJob) return;
      finishJob();
      ui.status.textContent = `Cancelled.${result ? ' The previous results are still shown.' : ''}`;
      break;
    default:
      break;
  }
}

function showModel() {
  const info = userModelInfo ?? defaultModel;
  if (!info) return;
  const c = info.config;
  ui.modelInfo.textContent = `${info.isDefault ? 'default' : info.name} (${c.input_dim}-d input, ${c.levels} levels × ${c.codebook_size} codes)`;
  ui.modelReset.hidden = !userModelInfo;
}

function startJob(source) {
  hideError();
  const job = ++jobCounter;
  runningJob = job;
  ui.progress.hidden = false;
  ui.progressLabel.textContent = 'Starting…';
  ui.progressBar.removeAttribute('value');
  ui.status.textContent = '';
  document.body.dataset.busy = 'true';
  ui.run.disabled = true;
  ui.sample.disabled = true;
  worker.postMessage({ type: 'run', job, source, model: userModelInfo ? userModel : null, backend: ui.backend.value });
}

function finishJob() {
  runningJob = null;
  ui.progress.hidden = true;
  delete document.body.dataset.busy;
  ui.sample.disabled = false;
  updateRunButton();
}

function cancelJob() {
  if (runningJob == null) return;
  const job = runningJob;
  worker.postMessage({ type: 'cancel', job });
  ui.progressLabel.textContent = 'Cancelling…';
  // A batch in flight finishes first; if the worker does not answer soon, replace it.
  setTimeout(() => {
    if (runningJob === job) {
      worker.terminate();
      startWorker();
      finishJob();
      ui.status.textContent = `Cancelled.${result ? ' The previous results are still shown.' : ''}`;
    }
  }, 3000);
}

// ---------------------------------------------------------------------------------------------
// Errors and file selection

function showError(message) {
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
}

/** Refuses a file by size (≥ 1 GB or empty) before anything reads it. */
function sizeProblem(file) {
  try {
    checkSize(file.name, file.size);
    return null;
  } catch (e) {
    if (e instanceof InputError) return e.message;
    throw e;
  }
}

function updateRunButton() {
  ui.run.disabled = runningJob != null || ui.embeddings.files.length === 0;
}

function onEmbeddingsChosen() {
  hideError();
  const file = ui.embeddings.files[0];
  if (file) {
    const problem = sizeProblem(file) ?? (kindOf(file.name) && kindOf(file.name) !== 'safetensors'
      ? null : `${file.name}: unknown file type; embeddings must be .npy, .jsonl or .csv`);
    if (problem) {
      showError(problem);
      ui.embeddings.value = '';
    }
  }
  updateRunButton();
}

function onTitlesChosen() {
  hideError();
  const file = ui.titles.files[0];
  const problem = file && sizeProblem(file);
  if (problem) {
    showError(problem);
    ui.titles.value = '';
  }
}

function onModelChosen() {
  hideError();
  const file = ui.model.files[0];
  if (!file) {
    userModel = null;
    userModelInfo = null;
    showModel();
    return;
  }
  const problem = sizeProblem(file);
  if (problem) {
    showError(`${problem} — the default model stays in use.`);
    ui.model.value = '';
    return;
  }
  userModel = file;
  userModelInfo = null;
  ui.modelInfo.textContent = `checking ${file.name}…`;
  modelCheckJob = ++jobCounter;
  worker.postMessage({ type: 'check-model', job: modelCheckJob, model: file });
}

function runFiles() {
  const embeddings = ui.embeddings.files[0];
  if (!embeddings) {
    showError('Choose an embeddings file first (.npy, .jsonl or .csv).');
    return;
  }
  if (userModel && !userModelInfo) {
    showError(`${userModel.name}: still being checked; try again in a moment.`);
    return;
  }
  const titles = ui.titles.files[0] ?? null;
  for (const f of [embeddings, titles]) {
    const problem = f && sizeProblem(f);
    if (problem) {
      showError(problem);
      return;
    }
  }
  startJob({ kind: 'files', embeddings, titles });
}

function setInputFile(input, file) {
  const dt = new DataTransfer();
  dt.items.add(file);
  input.files = dt.files;
}

/** Sorts dropped files into the three inputs by type; a .jsonl with "embedding" is embeddings. */
async function onDrop(files) {
  hideError();
  for (const file of files) {
    const kind = kindOf(file.name);
    if (kind === 'safetensors') {
      setInputFile(ui.model, file);
      onModelChosen();
    } else if (kind === 'npy' || kind === 'csv') {
      setInputFile(ui.embeddings, file);
      onEmbeddingsChosen();
    } else if (kind === 'jsonl') {
      const head = await file.slice(0, 1 << 16).text();
      if (/"embedding"\s*:/.test(head.split('\n')[0] ?? '') || file.size >= 1e9) {
        setInputFile(ui.embeddings, file);
        onEmbeddingsChosen();
      } else {
        setInputFile(ui.titles, file);
        onTitlesChosen();
      }
    } else {
      showError(`${file.name}: unknown file type; use .npy, .jsonl or .csv for embeddings, .jsonl for titles, .safetensors for a model`);
      return;
    }
  }
  if (!ui.error.hidden) return;
  ui.status.textContent = ui.embeddings.files.length
    ? `Ready: ${ui.embeddings.files[0].name}. Press “Assign semantic IDs”.`
    : '';
}

// ---------------------------------------------------------------------------------------------
// Results

/** Node objects from the worker's flat layout (see tree.js); returns the root. */
function buildTree(res) {
  const t = res.tree;
  const nodes = new Array(t.count);
  nodesByKey = new Map();
  for (let i = 0; i < t.count; i++) {
    const p = t.parent[i];
    const parent = p >= 0 ? nodes[p] : null;
    const code = t.code[i];
    const node = {
      parent,
      children: undefined,
      depth: t.depth[i],
      data: { code },
      value: t.value[i],
      x0: t.x0[i],
      x1: t.x1[i],
      rowStart: t.rowStart[i],
      rowEnd: t.rowEnd[i],
      codes: parent ? [...parent.codes, code] : [],
      key: parent ? (parent.key === '' ? `${code}` : `${parent.key}/${code}`) : '',
    };
    if (parent) (parent.children ??= []).push(node);
    nodes[i] = node;
    nodesByKey.set(node.key, node);
  }
  return nodes[0];
}

/** The node and its ancestors, from the node up to the root. */
function ancestors(node) {
  const out = [];
  for (let n = node; n; n = n.parent) out.push(n);
  return out;
}

function showResult(res) {
  result = res;
  root = buildTree(res);
  zoom = root;
  selected = root;
  active = root;
  picked = null;
  ui.search.disabled = false;
  ui.search.value = '';
  ui.searchResults.hidden = true;
  $('search-status').textContent = '';
  ui.exportCsv.disabled = false;
  ui.exportJsonl.disabled = false;
  renderSummary();
  renderChart();
  renderDetails();
  const secs = (res.encodeMs / 1000).toFixed(2);
  ui.status.textContent = `Done: ${fmt(res.rows)} items encoded in ${secs} s on ${res.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}.`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

function itemLabel(row) {
  const title = result.titles[row];
  return title ? title : `(untitled) id ${result.itemIds[row]}`;
}

function renderSummary() {
  const r = result;
  const c = r.model.config;
  const letters = LETTERS.slice(0, r.levels).toUpperCase();
  const secs = r.encodeMs / 1000;
  const source = r.titlesName ? `${r.name} + ${r.titlesName}` : r.name;
  const table = el('table', { class: 'levels' },
    el('caption', {}, 'Code usage per level'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Level'), el('th', { scope: 'col' }, 'Codes used'),
      el('th', { scope: 'col' }, 'Utilisation'), el('th', { scope: 'col' }, 'Perplexity'))),
    el('tbody', {}, r.levelStats.map((s) => el('tr', {},
      el('th', { scope: 'row' }, letters[s.level]),
      el('td', {}, `${fmt(s.used)} / ${fmt(r.codebookSize)}`),
      el('td', {}, `${(100 * s.utilisation).toFixed(1)} %`),
      el('td', {}, s.perplexity.toFixed(1))))));
  const t = r.tuples;
  const groups = t.largest.length === 0
    ? el('p', { class: 'small' }, 'No collisions: every item has its own (', letters.split('').join(', '), ') tuple.')
    : el('ol', { class: 'collisions' }, t.largest.slice(0, 5).map((g) => el('li', {},
      el('button', {
        type: 'button',
        class: 'link',
        onclick: () => selectNode(nodesByKey.get(g.codes.join('/')), { zoomTo: 'parent' }),
      }, prefixToken(g.codes)),
      ` ${fmt(g.size)} items: `,
      el('span', { class: 'muted' }, g.rows.slice(0, 3).map(itemLabel).join(' · ') + (g.size > 3 ? ' …' : '')))));
  ui.summary.replaceChildren(
    el('dl', { class: 'facts' },
      el('dt', {}, 'Items'), el('dd', { id: 'sum-items', dataset: { rows: r.rows } }, `${fmt(r.rows)} (${r.dim}-d ${r.dtype})`),
      el('dt', {}, 'Source'), el('dd', {}, source),
      el('dt', {}, 'Model'), el('dd', {}, `${r.model.isDefault ? 'default' : r.model.name} (${c.levels} × ${c.codebook_size} codes)`),
      el('dt', {}, 'Backend'), el('dd', {},
        el('strong', { id: 'backend-used' }, r.backend),
        r.backend === 'webgpu' ? ' (GPU)' : ' (WebAssembly on the CPU)',
        r.requestedBackend === 'auto' ? ', chosen by Auto' : ''),
      el('dt', {}, 'Encoding'), el('dd', { id: 'sum-time' },
        `${secs.toFixed(2)} s (${fmt(Math.round(r.rows / Math.max(secs, 1e-3)))} items/s); reading and checks ${(r.readMs / 1000).toFixed(2)} s`),
      el('dt', {}, 'Unique tuples'), el('dd', { id: 'sum-unique' },
        `${fmt(t.unique)} of ${fmt(r.rows)} (${(100 * t.uniqueFraction).toFixed(1)} %)`)),
    table,
    el('h3', {}, 'Largest collision groups'),
    el('p', { class: 'muted small' }, t.collisionGroups === 0 ? '' : `${fmt(t.collisionGroups)} tuples are shared, by ${fmt(t.itemsInCollisions)} items in all.`),
    groups,
  );
}

// ---------------------------------------------------------------------------------------------
// The icicle: columns are levels (root, A, AB, ABC), heights are item counts.

function colour(node) {
  if (node.depth === 0) return '#d5dae1';
  const a = node.codes[0];
  const hue = (a * 137.508) % 360;
  const light = [0, 60, 71, 81][Math.min(node.depth, 3)];
  return `hsl(${hue.toFixed(1)} 42% ${light}%)`;
}

function nodeName(node) {
  if (node.depth === 0) return `All items: ${fmt(node.value)}`;
  return `${prefixToken(node.codes)}: ${fmt(node.value)} item${node.value === 1 ? '' : 's'}`;
}

function shortLabel(node) {
  if (node.depth === 0) return `All ${fmt(node.value)}`;
  return `${LETTERS[node.depth - 1].toUpperCase()} ${node.data.code} · ${fmt(node.value)}`;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function renderChart() {
  if (!root) return;
  const chartHadFocus = ui.chart.contains(document.activeElement);
  const width = Math.max(320, ui.chart.clientWidth);
  const height = Math.max(420, Math.min(720, window.innerHeight - 200));
  const levels = result.levels;
  // The zoomed-to prefix gets a narrow first column, and each of the (at most) two levels below
  // it a full one.
  const maxDepth = Math.min(levels, zoom.depth + 2);
  const cols = maxDepth + 1 - zoom.depth;
  const first = cols > 1 ? 0.5 : 1;
  const unit = width / (first + cols - 1);
  const colX = (depth) => (depth === zoom.depth ? 0 : (first + depth - zoom.depth - 1) * unit);
  const colWidth = (depth) => (depth === zoom.depth ? first * unit : unit);
  const span = zoom.x1 - zoom.x0;
  const y = (x) => ((x - zoom.x0) / span) * height;
  const pathKeys = new Set(picked ? ancestors(picked.leaf).map((a) => a.key) : []);

  const svg = svgEl('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'tree',
    'aria-label': `Prefix hierarchy, zoomed to ${zoom.depth === 0 ? 'all items' : prefixToken(zoom.codes)}`,
    id: 'icicle',
  });
  const defs = svgEl('defs', {});
  const pattern = svgEl('pattern', { id: 'thin', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
  pattern.append(svgEl('rect', { width: 6, height: 6, fill: '#e4e7ec' }), svgEl('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#c3c9d2', 'stroke-width': 3 }));
  defs.append(pattern);
  svg.append(defs);
  const drawNode = (node) => {
    const y0 = y(node.x0);
    const y1 = y(node.x1);
    const x0 = colX(node.depth);
    const colW = colWidth(node.depth);
    const g = svgEl('g', {
      role: 'treeitem',
      tabindex: node === active ? '0' : '-1',
      'aria-level': String(node.depth + 1),
      'aria-label': nodeName(node),
      'aria-selected': String(node === selected),
      'data-key': node.key,
      'data-depth': String(node.depth),
      'data-count': String(node.value),
      class: `node${node === selected ? ' selected' : ''}${pathKeys.has(node.key) ? ' on-path' : ''}${node === zoom ? ' zoom' : ''}`,
    });
    if (node.children) g.setAttribute('aria-expanded', String(node.depth < maxDepth));
    const h = y1 - y0;
    g.append(svgEl('rect', {
      x: (x0 + 0.5).toFixed(1), y: (y0 + 0.5).toFixed(1),
      width: Math.max(0, colW - 1).toFixed(1), height: Math.max(0.5, h - 1).toFixed(1),
      fill: colour(node),
    }));
    const title = svgEl('title', {});
    title.textContent = nodeName(node) + (node === zoom && node.parent ? ' (click to zoom out)' : '');
    g.append(title);
    if (h >= 15 && colW >= 48) {
      const text = svgEl('text', { x: (x0 + 6).toFixed(1), y: (Math.max(y0, 0) + Math.min(h, height) / 2 + 4.5).toFixed(1) });
      const label = shortLabel(node);
      const maxChars = Math.floor((colW - 10) / 7.2);
      text.textContent = label.length > maxChars ? `${label.slice(0, Math.max(1, maxChars - 1))}…` : label;
      g.append(text);
    }
    svg.append(g);
    if (!node.children || node.depth >= maxDepth) return;
    let small = null;
    for (const child of node.children) {
      const ch = y(child.x1) - y(child.x0);
      if (ch < MIN_PX) {
        small = child;
        break;
      }
      drawNode(child);
    }
    if (small) {
      // Children are sorted by size, so the thin ones are contiguous at the bottom.
      const idx = node.children.indexOf(small);
      const rest = node.children.slice(idx);
      const items = rest.reduce((s, c) => s + c.value, 0);
      const ay0 = y(small.x0);
      const band = svgEl('g', {
        class: 'band', 'aria-hidden': 'true', 'data-depth': String(node.depth + 1), 'data-count': String(items), 'data-prefixes': String(rest.length),
      });
      const bx = colX(node.depth + 1) + 0.5;
      const bw = colWidth(node.depth + 1);
      const bh = Math.max(0.5, y1 - ay0);
      band.append(svgEl('rect', {
        x: bx.toFixed(1), y: ay0.toFixed(1),
        width: Math.max(0, width - bx - 1).toFixed(1), height: bh.toFixed(1),
        fill: 'url(#thin)',
      }));
      const t = svgEl('title', {});
      t.textContent = `${fmt(rest.length)} smaller prefixes with ${fmt(items)} items: pick one in the list of child prefixes, or zoom in`;
      band.append(t);
      if (bh >= 15 && bw >= 90) {
        const label = svgEl('text', { x: (bx + 6).toFixed(1), y: (ay0 + Math.min(bh, height - ay0) / 2 + 4.5).toFixed(1) });
        const full = `+${fmt(rest.length)} smaller (${fmt(items)} items)`;
        const maxChars = Math.floor((bw - 10) / 6.5);
        label.textContent = full.length > maxChars ? `+${fmt(rest.length)} smaller` : full;
        band.append(label);
      }
      svg.append(band);
    }
  };
  drawNode(zoom);
  ui.chart.replaceChildren(svg);
  ui.details.style.maxHeight = `${height}px`;
  renderCrumbs();
  if (chartHadFocus) focusActive();
}

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

// ---------------------------------------------------------------------------------------------
// Details panel

function itemRow(row, hit) {
  return el('li', { class: hit ? 'hit' : null, 'aria-current': hit ? 'true' : null, dataset: { row } },
    el('span', { class: 'id' }, String(result.itemIds[row])),
    el('span', { class: 'title' }, result.titles[row] || el('i', {}, 'untitled')),
    el('span', { class: 'tok' }, tokenOf(result.ids, row, result.levels)));
}

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

function itemList(rows, total, label, hitRow) {
  return [
    el('ul', { class: 'items', 'aria-label': label }, rows.map((r) => itemRow(r, r === hitRow))),
    total > rows.length ? el('p', { class: 'muted small' }, `… and ${fmt(total - rows.length)} more (export to see all).`) : null,
  ];
}

function renderDetails() {
  if (!selected) return;
  const node = selected;
  const heading = node.depth === 0 ? 'All items' : `Prefix ${prefixToken(node.codes)}`;
  const pct = (100 * node.value) / root.value;
  const share = pct < 0.1 ? '< 0.1' : pct.toFixed(1);
  const parts = [
    el('h3', { id: 'details-h' }, heading),
    el('p', { id: 'details-count', dataset: { count: node.value } },
      `${fmt(node.value)} item${node.value === 1 ? '' : 's'} (${share} % of ${fmt(root.value)})`),
  ];
  if (picked) {
    const row = picked.row;
    parts.push(el('div', { class: 'picked' },
      el('p', {}, el('strong', {}, itemLabel(row)), ` (id ${result.itemIds[row]}) has `,
        el('code', {}, tokenOf(result.ids, row, result.levels)), '.'),
      el('p', { class: 'muted small' }, 'Its path is outlined in the chart; below are the items sharing its prefixes.')));
  }
  if (node.children) {
    const kids = node.children;
    parts.push(el('h4', {}, `${fmt(kids.length)} child prefix${kids.length === 1 ? '' : 'es'}`));
    parts.push(el('ul', { class: 'kids', 'aria-label': `Child prefixes of ${heading}` }, kids.map((k) => el('li', {},
      el('button', { type: 'button', class: 'link', onclick: () => selectNode(k, { zoomTo: 'self', focus: false }) },
        `<${LETTERS[k.depth - 1]}_${k.data.code}>`), ` ${fmt(k.value)}`))));
  }
  const hitRow = picked?.row ?? null;
  const rows = rowsOf(node, ITEM_LIST_LIMIT, hitRow);
  parts.push(el('h4', {}, node.children ? 'Items' : (node.value > 1 ? 'Items sharing all codes (collision group)' : 'Item')));
  parts.push(...itemList(rows, node.value, `Items of ${heading}`, hitRow));
  if (picked && !node.children && node.parent?.depth > 0) {
    const own = new Set(rowsOf(node));
    const mates = rowsOf(node.parent).filter((r) => !own.has(r));
    parts.push(el('h4', {}, `Also under ${prefixToken(node.parent.codes)} (${fmt(mates.length)} more)`));
    if (mates.length > 0) parts.push(...itemList(mates.slice(0, ITEM_LIST_LIMIT), mates.length, `Other items under ${prefixToken(node.parent.codes)}`, null));
    else parts.push(el('p', { class: 'muted small' }, 'No other item shares these two codes.'));
  }
  ui.details.replaceChildren(...parts.filter((p) => p != null));
  ui.details.querySelector('li.hit')?.scrollIntoView({ block: 'nearest' });
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
  const exact = [];
  const matches = [];
  for (let i = 0; i < result.rows && matches.length < 50; i++) {
    if (String(result.itemIds[i]).toLowerCase() === q) exact.push(i);
    else if (result.titles[i].toLowerCase().includes(q)) matches.push(i);
  }
  searchMatches = [...exact, ...matches].slice(0, 50);
  ui.searchResults.replaceChildren(...(searchMatches.length === 0
    ? [el('li', { class: 'none' }, 'No item matches.')]
    : searchMatches.map((row) => el('li', {},
      el('button', { type: 'button', dataset: { row }, onclick: () => pickItem(row) },
        el('span', { class: 'id' }, String(result.itemIds[row])), ' ', itemLabel(row))))));
  ui.searchResults.hidden = false;
}

function pickItem(row) {
  const levels = result.levels;
  const codes = Array.from(result.ids.subarray(row * levels, (row + 1) * levels));
  const leaf = nodesByKey.get(codes.join('/'));
  picked = { row, leaf };
  ui.searchResults.hidden = true;
  selected = leaf;
  active = leaf;
  zoom = ancestors(leaf).find((a) => a.depth === 1) ?? root;
  reveal(leaf);
  renderDetails();
  $('search-status').textContent = `${itemLabel(row)}: ${tokenOf(result.ids, row, levels)}; ${fmt(leaf.value - 1)} other item${leaf.value === 2 ? '' : 's'} share all codes.`;
}

ui.search.addEventListener('input', runSearch);
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

// ---------------------------------------------------------------------------------------------
// Export

function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function exportBase() {
  return result.name.replace(/(\.f(16|32))?\.(npy|jsonl|ndjson|csv)$/i, '') || 'items';
}

ui.exportCsv.addEventListener('click', () => {
  if (result) download(toCsv(result), `${exportBase()}-semantic-ids.csv`, 'text/csv');
});
ui.exportJsonl.addEventListener('click', () => {
  if (result) download(toJsonl(result), `${exportBase()}-semantic-ids.jsonl`, 'application/x-ndjson');
});

// ---------------------------------------------------------------------------------------------
// Wiring

ui.embeddings.addEventListener('change', onEmbeddingsChosen);
ui.titles.addEventListener('change', onTitlesChosen);
ui.model.addEventListener('change', onModelChosen);
ui.modelReset.addEventListener('click', () => {
  ui.model.value = '';
  onModelChosen();
});
ui.run.addEventListener('click', runFiles);
ui.sample.addEventListener('click', () => startJob({ kind: 'sample' }));
ui.cancel.addEventListener('click', cancelJob);
ui.errorClose.addEventListener('click', hideError);

for (const type of ['dragover', 'drop']) {
  // Files dropped anywhere are handled here instead of the browser opening them.
  window.addEventListener(type, (event) => {
    if (!event.dataTransfer?.types?.includes('Files')) return;
    event.preventDefault();
    if (type === 'drop') {
      ui.drop.classList.remove('over');
      onDrop([...event.dataTransfer.files]);
    }
  });
}
ui.drop.addEventListener('dragenter', () => ui.drop.classList.add('over'));
ui.drop.addEventListener('dragleave', (event) => {
  if (!ui.drop.contains(event.relatedTarget)) ui.drop.classList.remove('over');
});

let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderChart, 150);
});

startWorker();
