// The zoomable icicle of prefixes: columns are levels (root, A, AB, ABC), heights are item counts.
// Drawn as an ARIA tree: every prefix is a focusable treeitem named by its codes and item count.

import { svgEl } from './elements.js';
import { fmt } from './format.js';
import { LETTERS, prefixToken } from './stats.js';

const MIN_PX = 2; // prefixes thinner than this are drawn as one "smaller prefixes" band

function colour(node) {
  if (node.depth === 0) return '#d5dae1';
  const a = node.codes[0];
  const hue = (a * 137.508) % 360;
  const light = [0, 60, 71, 81][Math.min(node.depth, 3)];
  return `hsl(${hue.toFixed(1)} 42% ${light}%)`;
}

function nodeName(node) {
  if (node.depth === 0) return `All items: ${fmt(node.value)}`;
  const shown = node.name ?? node.label;
  const named = shown ? ` “${shown}”` : '';
  return `${prefixToken(node.codes)}${named}: ${fmt(node.value)} item${node.value === 1 ? '' : 's'}`;
}

function shortLabel(node) {
  if (node.depth === 0) return `All ${fmt(node.value)}`;
  const shown = node.name ?? node.label;
  const named = shown ? ` “${shown}”` : '';
  return `${LETTERS[node.depth - 1].toUpperCase()} ${node.data.code} · ${fmt(node.value)}${named}`;
}

/**
 * The icicle of the prefixes under `zoom`, `width` × `height` pixels: `zoom` and (at most) two
 * levels below it. `active` holds the tab stop, `selected` is outlined, `pathKeys` (node keys)
 * are drawn as a path.
 */
export function drawIcicle({ zoom, active, selected, pathKeys, levels, width, height }) {
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
  return svg;
}
