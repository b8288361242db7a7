// The "Map" of the explorer: every item as a point, laid out by the worker (UMAP of the model's
// latents, so that neighbours sit together) and drawn by map-gl.js; coloured by its code at the
// chosen level. Linked both ways with the chart: the chart's selected prefix lights its points
// and dims the rest; a click on a point picks that item, a box (Shift + drag, or the view)
// selects the items inside and lists the prefixes they fall in. Keyboard: Tab to the map, arrows
// pan, + and − zoom, 0 resets.

import { PointsRenderer } from './map-gl.js';
import { renderSelection } from './map-selection.js';
import { count, fmt } from './format.js';
import { prefixToken } from './stats.js';

const $ = (id) => document.getElementById(id);
const ui = {
  canvas: $('map'),
  box: $('map-box'),
  status: $('map-status'),
  colour: $('map-colour'),
  selectView: $('map-select-view'),
  reset: $('map-reset'),
  selection: $('map-selection'),
};

let renderer = null;
let result = null;
let positions = null; // Float32Array rows × 2, or null until the worker sends some
let fitted = true; // the view follows the layout until the editor moves it
let view = { x: 0, y: 0, zoom: 1 };
let bounds = { x0: 0, x1: 1, y0: 0, y1: 1 };
let lit = null; // rows lit (a Uint32Array), or null for all
let litText = '';
let layout = null; // { epochsDone, epochs, done, ms } from the worker
let unavailable = null;
let moving = false;
let restTimer = null;
let hooks = {};
let selection = []; // the rows of the last box (or view) selection
let timings = {}; // performance.now() of the run shown, the first map drawn and the settled one

/** Wires the map; `h`: `prefixName(codes)`, `onPickRow(row)`, `onSelectPrefix(codes)`. */
export function initMap(h) {
  hooks = h;
  renderer = new PointsRenderer(ui.canvas);
  if (renderer.unavailable) ui.status.textContent = `No map: ${renderer.unavailable}. The chart and the lists work without it.`;
  ui.colour.addEventListener('change', () => {
    recolour();
    describe();
    draw();
  });
  ui.reset.addEventListener('click', () => {
    fitted = true;
    fit();
    draw();
  });
  ui.selectView.addEventListener('click', () => {
    const { width, height } = cssSize();
    select(0, 0, width, height, 'in view');
  });
  new ResizeObserver(() => draw()).observe(ui.canvas);
}

/** A new run: its codes now, its positions when the worker has laid them out. */
export function showMapRun(res) {
  result = res;
  timings = { shown: performance.now() };
  positions = null;
  lit = null;
  litText = '';
  layout = null;
  unavailable = null;
  fitted = true;
  ui.selection.replaceChildren();
  selection = [];
  ui.selectView.disabled = true;
  ui.reset.disabled = true;
  ui.colour.disabled = false;
  if (renderer?.count) renderer.setPositions(new Float32Array(0));
  describe();
  draw();
}

/** The worker's layout as it settles ({ positions, epochsDone, epochs, done, ms }) or why none. */
export function onMapMessage(msg) {
  if (!result || msg.rows !== result.rows) return;
  if (msg.unavailable) {
    unavailable = msg.unavailable;
    positions = null;
    renderer?.setPositions(new Float32Array(0));
    ui.selectView.disabled = true;
    ui.reset.disabled = true;
    describe();
    draw();
    return;
  }
  positions = msg.positions;
  layout = msg;
  renderer?.setPositions(positions);
  if (fitted) fit();
  recolour();
  ui.selectView.disabled = false;
  ui.reset.disabled = false;
  describe();
  draw();
  timings.first ??= performance.now();
  if (msg.done) timings.settled = performance.now();
}

/** Lights `rows` (a prefix's items) and dims the rest; null lights every item. */
export function highlightRows(rows, text = '') {
  lit = rows;
  litText = text;
  recolour();
  describe();
  draw();
}

/** For tests and benchmarks: the rows lit now (every row when none is chosen). */
export function litRows() {
  if (!result) return new Uint32Array(0);
  return lit ? Uint32Array.from(lit) : Uint32Array.from({ length: result.rows }, (_, i) => i);
}

/** For tests: the rows of the last box (or view) selection. */
export function selectedRows() {
  return selection.slice();
}

/** For tests and benchmarks: the positions and the screen point (CSS pixels) of `row`. */
export function mapState() {
  return {
    positions, layout, timings, renderer: renderer?.rendererName ?? null, software: renderer?.software ?? false,
    stride: renderer?.stride ?? 1, toScreen: (row) => toScreen(positions[2 * row], positions[2 * row + 1]),
  };
}

/**
 * For the benchmark: pans the map `frames` times, drawing each frame to the end (a pixel read
 * back), and returns each frame's milliseconds. `sparse: false` draws every point even where a
 * software renderer would draw a sparse set while moving.
 */
export function timePan(frames = 60, { sparse = true } = {}) {
  const times = [];
  for (let i = 0; i < frames; i++) {
    const t = performance.now();
    view.x += (bounds.x1 - bounds.x0) / 400;
    moving = sparse;
    draw();
    renderer.finish();
    times.push(performance.now() - t);
  }
  moving = false;
  draw();
  return times;
}

// ---------------------------------------------------------------------------------------------
// Colours

/** A colour per code prefix: hues spread by the golden angle, so that neighbouring codes differ. */
function hueOf(key) {
  return (key * 137.508) % 360;
}

function hslBytes(h, s, l, out, at) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  out[at] = Math.round(255 * f(0));
  out[at + 1] = Math.round(255 * f(8));
  out[at + 2] = Math.round(255 * f(4));
}

function recolour() {
  if (!result || !positions || !renderer) return;
  const { rows, levels, ids } = result;
  const depth = Math.min(levels, Number(ui.colour.value) || 1);
  const colours = new Uint8Array(rows * 4);
  const isLit = lit ? new Uint8Array(rows) : null;
  if (lit) for (const r of lit) isLit[r] = 1;
  for (let r = 0; r < rows; r++) {
    const at = r * 4;
    if (isLit && !isLit[r]) {
      colours[at] = 150;
      colours[at + 1] = 156;
      colours[at + 2] = 166;
      colours[at + 3] = 0;
      continue;
    }
    let key = 0;
    for (let l = 0; l < depth; l++) key = key * 1031 + ids[r * levels + l] + 1;
    hslBytes(hueOf(key), 0.7, depth === 1 ? 0.45 : 0.35 + 0.1 * (key % 3), colours, at);
    colours[at + 3] = 255;
  }
  renderer.setColours(colours);
}

// ---------------------------------------------------------------------------------------------
// The view

function cssSize() {
  return { width: ui.canvas.clientWidth || 1, height: ui.canvas.clientHeight || 1 };
}

function fit() {
  if (!positions) return;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < positions.length; i += 2) {
    const x = positions[i];
    const y = positions[i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const pad = 0.04 * Math.max(x1 - x0, y1 - y0, 1e-6);
  bounds = { x0: x0 - pad, x1: x1 + pad, y0: y0 - pad, y1: y1 + pad };
  view = { x: (bounds.x0 + bounds.x1) / 2, y: (bounds.y0 + bounds.y1) / 2, zoom: 1 };
}

/** CSS pixels per map unit. */
function pixelsPerUnit() {
  const { width, height } = cssSize();
  return Math.min(width / (bounds.x1 - bounds.x0), height / (bounds.y1 - bounds.y0)) * view.zoom;
}

function toScreen(x, y) {
  const { width, height } = cssSize();
  const s = pixelsPerUnit();
  return { x: width / 2 + (x - view.x) * s, y: height / 2 - (y - view.y) * s };
}

function toMap(px, py) {
  const { width, height } = cssSize();
  const s = pixelsPerUnit();
  return { x: view.x + (px - width / 2) / s, y: view.y - (py - height / 2) / s };
}

function draw() {
  if (!renderer || renderer.unavailable) return;
  const dpr = window.devicePixelRatio || 1;
  const { width, height } = cssSize();
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (ui.canvas.width !== w || ui.canvas.height !== h) {
    ui.canvas.width = w;
    ui.canvas.height = h;
  }
  if (!positions) {
    renderer.draw({ cx: 0, cy: 0, sx: 1, sy: 1 });
    return;
  }
  const s = pixelsPerUnit();
  renderer.draw({ cx: view.x, cy: view.y, sx: (2 * s) / width, sy: (2 * s) / height }, { moving });
}

/** A move of the view: drawn sparsely on a software renderer until it rests. */
function moved() {
  fitted = false;
  moving = true;
  draw();
  clearTimeout(restTimer);
  restTimer = setTimeout(() => {
    moving = false;
    draw();
  }, 150);
}

function zoomAt(factor, px, py) {
  const before = toMap(px, py);
  view.zoom = Math.min(2000, Math.max(0.5, view.zoom * factor));
  const after = toMap(px, py);
  view.x += before.x - after.x;
  view.y += before.y - after.y;
  moved();
}

// ---------------------------------------------------------------------------------------------
// Describing the map (its status line and its name for screen readers)

function describe() {
  if (!result) return;
  const depth = Number(ui.colour.value) || 1;
  const colour = `coloured by ${['', 'level-A', 'AB', 'ABC'][Math.min(3, depth)] ?? 'full'} prefix`;
  const litPart = lit ? `; lit: ${litText} (${count(lit.length, 'item')}), the rest dimmed` : '';
  let state;
  if (renderer?.unavailable) state = `No map: ${renderer.unavailable}`;
  else if (unavailable) state = `No map: ${unavailable}`;
  else if (!layout) state = `Laying out ${count(result.rows, 'item')}…`;
  else if (!layout.done && layout.epochsDone === 0) state = `Laying out ${count(result.rows, 'item')}: a first view (principal components) while each item's neighbours are found`;
  else if (!layout.done) state = `Laying out ${count(result.rows, 'item')}: epoch ${fmt(layout.epochsDone)} of ${fmt(layout.epochs)}`;
  else state = `${count(result.rows, 'item')}, laid out in ${(layout.ms / 1000).toFixed(1)} s`;
  const software = renderer?.software && renderer.stride > 1
    ? ` Software renderer (${renderer.rendererName}): while the map moves it draws 1 point in ${renderer.stride}, and all of them when it rests.`
    : '';
  ui.status.textContent = `${state}, ${colour}${litPart}.${software}`;
  ui.canvas.setAttribute('aria-label', `Map of the items: ${state}, ${colour}${litPart}. Arrows pan, plus and minus zoom, 0 resets; “Select the items in view” lists them.`);
}

// ---------------------------------------------------------------------------------------------
// Selecting: a click picks the nearest point, a box (or the view) selects what is inside

/** The row nearest to the screen point, within `radius` CSS pixels, or null. */
function rowAt(px, py, radius = 8) {
  if (!positions) return null;
  const p = toMap(px, py);
  const r = radius / pixelsPerUnit();
  let best = null;
  let bestD = r * r;
  const isLit = lit ? new Set(lit) : null;
  for (let i = 0; i < positions.length / 2; i++) {
    const dx = positions[2 * i] - p.x;
    const dy = positions[2 * i + 1] - p.y;
    const d = dx * dx + dy * dy;
    // Lit points are in front, so they win a click on a spot they share with dimmed ones.
    if (d < bestD || (d <= r * r && isLit?.has(i) && !isLit.has(best))) {
      best = i;
      bestD = d;
    }
  }
  return best;
}

function select(ax, ay, bx, by, how) {
  if (!positions) return;
  const a = toMap(Math.min(ax, bx), Math.max(ay, by));
  const b = toMap(Math.max(ax, bx), Math.min(ay, by));
  const rows = [];
  for (let i = 0; i < positions.length / 2; i++) {
    const x = positions[2 * i];
    const y = positions[2 * i + 1];
    if (x >= a.x && x <= b.x && y >= a.y && y <= b.y) rows.push(i);
  }
  selection = rows;
  renderSelection(ui.selection, { rows, result, how, hooks });
}

let drag = null; // { x, y, box, moved }

ui.canvas.addEventListener('pointerdown', (e) => {
  if (!positions || e.button !== 0) return;
  ui.canvas.setPointerCapture(e.pointerId);
  drag = { x: e.offsetX, y: e.offsetY, lastX: e.offsetX, lastY: e.offsetY, box: e.shiftKey, moved: false };
});

ui.canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  if (Math.abs(e.offsetX - drag.x) + Math.abs(e.offsetY - drag.y) > 4) drag.moved = true;
  if (drag.box) {
    Object.assign(ui.box.style, {
      left: `${Math.min(drag.x, e.offsetX)}px`, top: `${Math.min(drag.y, e.offsetY)}px`,
      width: `${Math.abs(e.offsetX - drag.x)}px`, height: `${Math.abs(e.offsetY - drag.y)}px`,
    });
    ui.box.hidden = false;
  } else if (drag.moved) {
    const s = pixelsPerUnit();
    view.x -= (e.offsetX - drag.lastX) / s;
    view.y += (e.offsetY - drag.lastY) / s;
    drag.lastX = e.offsetX;
    drag.lastY = e.offsetY;
    moved();
  }
});

ui.canvas.addEventListener('pointerup', (e) => {
  if (!drag) return;
  const d = drag;
  drag = null;
  ui.box.hidden = true;
  if (d.box && d.moved) select(d.x, d.y, e.offsetX, e.offsetY, 'in the box');
  else if (!d.moved) {
    const row = rowAt(e.offsetX, e.offsetY);
    if (row != null) hooks.onPickRow(row);
  }
});

ui.canvas.addEventListener('wheel', (e) => {
  if (!positions) return;
  e.preventDefault();
  zoomAt(Math.exp(-e.deltaY * 0.002), e.offsetX, e.offsetY);
}, { passive: false });

ui.canvas.addEventListener('keydown', (e) => {
  if (!positions) return;
  const { width, height } = cssSize();
  const step = (0.1 * Math.min(width, height)) / pixelsPerUnit();
  const pans = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
  if (pans[e.key]) {
    view.x += pans[e.key][0];
    view.y += pans[e.key][1];
    moved();
  } else if (e.key === '+' || e.key === '=') zoomAt(1.25, width / 2, height / 2);
  else if (e.key === '-' || e.key === '_') zoomAt(0.8, width / 2, height / 2);
  else if (e.key === '0') {
    fitted = true;
    fit();
    draw();
  } else return;
  e.preventDefault();
});

/** The prefix token and name of the chart's selection, for the status line. */
export function prefixText(codes, name) {
  return `${prefixToken(codes)}${name ? ` “${name}”` : ''}`;
}
