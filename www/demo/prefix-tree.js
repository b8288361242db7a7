// The prefix hierarchy as the page walks it: light node objects rebuilt from the worker's flat
// layout (tree.js), keyed "a/b/c" by their codes.

/** Node objects from a flat layout; returns `{ root, nodesByKey }`. */
export function buildTree(t) {
  const nodes = new Array(t.count);
  const nodesByKey = new Map();
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
  return { root: nodes[0], nodesByKey };
}

/** The node and its ancestors, from the node up to the root. */
export function ancestors(node) {
  const out = [];
  for (let n = node; n; n = n.parent) out.push(n);
  return out;
}
