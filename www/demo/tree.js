// The prefix hierarchy (root → A → AB → ABC), laid out with d3-hierarchy's partition in the
// worker and sent to the page as flat typed arrays, so the page only rebuilds light node objects.

import { hierarchy, partition } from './vendor/d3-hierarchy.mjs';

/**
 * Lays out the prefix tree of `ids` (row-major n × levels). Nodes are numbered in pre-order;
 * children are sorted by item count (largest first), then by code. `order` lists the rows so that
 * every node's items are the contiguous range order[rowStart, rowEnd).
 */
export function layoutTree(ids, n, levels) {
  const top = { code: -1, kids: new Map() };
  for (let i = 0; i < n; i++) {
    let node = top;
    for (let l = 0; l < levels; l++) {
      const code = ids[i * levels + l];
      let next = node.kids.get(code);
      if (!next) {
        next = l === levels - 1 ? { code, rows: [] } : { code, kids: new Map() };
        node.kids.set(code, next);
      }
      node = next;
    }
    node.rows.push(i);
  }
  const root = hierarchy(top, (d) => (d.kids ? d.kids.values() : null))
    .sum((d) => (d.rows ? d.rows.length : 0))
    .sort((a, b) => b.value - a.value || a.data.code - b.data.code);
  partition().size([1, 1])(root);

  const nodes = root.descendants().length;
  const t = {
    count: nodes,
    parent: new Int32Array(nodes),
    depth: new Uint8Array(nodes),
    code: new Int32Array(nodes),
    value: new Int32Array(nodes),
    x0: new Float64Array(nodes),
    x1: new Float64Array(nodes),
    rowStart: new Int32Array(nodes),
    rowEnd: new Int32Array(nodes),
    order: new Int32Array(n),
  };
  let next = 0;
  let rowPos = 0;
  root.eachBefore((node) => {
    node.index = next;
    next += 1;
  });
  // Pre-order again: parents are numbered before their children, and leaves appear in chart order.
  root.eachBefore((node) => {
    const i = node.index;
    t.parent[i] = node.parent ? node.parent.index : -1;
    t.depth[i] = node.depth;
    t.code[i] = node.data.code;
    t.value[i] = node.value;
    t.x0[i] = node.x0;
    t.x1[i] = node.x1;
    t.rowStart[i] = rowPos;
    if (node.data.rows) {
      t.order.set(node.data.rows, rowPos);
      rowPos += node.data.rows.length;
    }
  });
  root.eachAfter((node) => {
    t.rowEnd[node.index] = node.children ? t.rowEnd[node.children[node.children.length - 1].index] : t.rowStart[node.index] + node.data.rows.length;
  });
  return t;
}

/** The typed arrays of a layout, for postMessage's transfer list. */
export function transferables(t) {
  return [t.parent, t.depth, t.code, t.value, t.x0, t.x1, t.rowStart, t.rowEnd, t.order].map((a) => a.buffer);
}
