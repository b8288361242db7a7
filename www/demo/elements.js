// Builds the page's DOM nodes from plain values: text is always inserted as text, never parsed
// as HTML, so titles and ids from the user's files cannot inject markup.

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An HTML element. `attrs`: `class`, `dataset` (an object), `on<event>` handlers, and plain
 * attributes (null and false leave them out; true sets them empty).
 */
export function el(tag, attrs = {}, ...children) {
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

/** An SVG element with the given attributes. */
export function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
