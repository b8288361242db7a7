// The "new item" box, shown after a titles run: a typed title's ID (its nearest codes under the
// model in use), the prefix it joins and how many items share it, its nearest catalog items, and
// "add to the ID table" (the worker adds it and sends the run's result again, downloads included).

import { el } from './elements.js';
import { fmt } from './format.js';

const $ = (id) => document.getElementById(id);
const token = (level, code) => `<${String.fromCharCode(97 + level)}_${code}>`;
const tokens = (codes) => codes.map((c, l) => token(l, c)).join('');

let post = () => 0;
let pending = null; // the job number of the request in flight

/** Wires the box to the worker: `send(message)` posts it and returns its job number. */
export function initNewItem(send) {
  post = send;
  const find = () => {
    const title = $('new-title').value;
    if (title.trim() === '') {
      showMessage('Type a title first.');
      return;
    }
    pending = post({ type: 'probe', title });
    $('new-item-find').disabled = true;
    $('new-item-add').disabled = true;
    showMessage('Embedding the title…');
  };
  $('new-item-find').addEventListener('click', find);
  $('new-title').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') find();
  });
  $('new-title').addEventListener('input', () => {
    $('new-item-add').disabled = true;
  });
  $('new-item-add').addEventListener('click', () => {
    pending = post({ type: 'add-item', title: $('new-title').value, id: $('new-id').value.trim() });
    $('new-item-find').disabled = true;
    $('new-item-add').disabled = true;
    showMessage('Adding the item…');
  });
}

function showMessage(text) {
  $('new-item-result').replaceChildren(el('p', { class: 'note' }, text));
}

/** Shows the box for a titles run's result, hides it otherwise. */
export function showNewItem(result) {
  $('new-item').hidden = !result.text;
  if (result.added) {
    const { row, id } = result.added;
    const codes = Array.from(result.table.ids.subarray(row * (result.levels + 1), (row + 1) * (result.levels + 1)));
    $('new-item-result').replaceChildren(el('p', { id: 'new-item-added' },
      `Added as item ${JSON.stringify(id)} with the ID ${tokens(codes)}; the ID table now holds ${fmt(result.table.size)} items.`));
    $('new-title').value = '';
    $('new-id').value = '';
  }
  $('new-item-find').disabled = false;
}

/** The worker's answer to a probe: the ID, the prefix and the neighbours. */
export function onProbe(msg) {
  if (msg.job !== pending) return;
  pending = null;
  $('new-item-find').disabled = false;
  if (msg.type === 'probe-error') {
    showMessage(msg.message);
    return;
  }
  const p = msg.probe;
  const prefix = tokens(p.prefix);
  $('new-item-result').replaceChildren(
    el('p', { id: 'new-item-id' }, 'Its ID: ', el('code', {}, tokens(p.codes))),
    el('p', { id: 'new-item-prefix' }, p.prefixItems
      ? `It joins the prefix ${prefix}, which holds ${fmt(p.prefixItems)} item${p.prefixItems === 1 ? '' : 's'}.`
      : `It opens a new prefix, ${prefix}: no item has it yet.`),
    el('p', {}, 'Nearest items:'),
    el('ol', { id: 'new-item-neighbours' }, p.neighbours.map((n) => el('li', {},
      `${n.title} `, el('code', {}, tokens(n.codes)), ` (cosine ${n.cosine.toFixed(3)})`))),
  );
  $('new-item-add').disabled = false;
}
