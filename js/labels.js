// Prefix labels: names for the prefixes of semantic IDs, from the items' titles (the terms most
// distinctive of a prefix against its siblings, computed in Rust: src/ids/labels.rs), and the
// checks shared by `prefixLabels` here and IdTable's label methods.

import { labelsJson } from '../pkg/rqvae.js';
import { RqvaeError, toError } from './errors.js';
import { initWasm } from './wasm.js';

/** Names by prefix key, from a Map or a plain object, each a string. */
export function namesMap(names) {
  const entries = names instanceof Map ? [...names] : (names && typeof names === 'object' && !Array.isArray(names) ? Object.entries(names) : null);
  if (!entries) throw new RqvaeError('ERR_INPUT', 'names must be a Map or an object of prefix keys ("51", "51/3") to names');
  const bad = entries.find(([, v]) => typeof v !== 'string');
  if (bad) throw new RqvaeError('ERR_LABELS', `the name of prefix ${JSON.stringify(bad[0])} is ${typeof bad[1]}: a name is a string`);
  return new Map(entries);
}

/** The titles as JSON for the wasm module, after checking them, `terms` and `names`. */
export function labelArgs(titles, terms, names) {
  if (!Array.isArray(titles)) throw new RqvaeError('ERR_INPUT', 'titles must be an array: one string (or null) per item');
  const bad = titles.findIndex((t) => !(t === null || t === undefined || typeof t === 'string'));
  if (bad >= 0) throw new RqvaeError('ERR_INPUT', `titles[${bad}] is ${typeof titles[bad]}: a title is a string, or null for an item without one`);
  if (!Number.isSafeInteger(terms) || terms < 1) throw new RqvaeError('ERR_OPTION', `terms must be a positive integer, found ${terms}`);
  return {
    json: JSON.stringify(titles.map((t) => t ?? null)),
    named: names === undefined ? new Map() : namesMap(names),
  };
}

/** The labels with each one's editor's name (or null). */
export function withNames(labels, named) {
  return labels.map((l) => ({ ...l, name: named.get(l.key) ?? null }));
}

/**
 * Labels for the prefixes of any codes (an encode's IDs, or the nearest codes a table was made
 * from), as `IdTable.prefixLabels` gives for a table's.
 * @param {Uint16Array | Uint32Array | number[]} codes row-major, `levels` per item
 * @param {{ levels: number, titles: (string|null|undefined)[], terms?: number,
 *   names?: Map<string, string> | Record<string, string> }} options
 * @returns {Promise<{ prefix: number[], key: string, items: number, titled: number,
 *   terms: string[], label: string, name: string | null }[]>}
 */
export async function prefixLabels(codes, { levels, titles, terms = 2, names } = {}) {
  if (!(codes instanceof Uint16Array || codes instanceof Uint32Array || Array.isArray(codes))) {
    throw new RqvaeError('ERR_INPUT', 'codes must be a Uint16Array, a Uint32Array or an array of integers, row-major');
  }
  if (!Number.isSafeInteger(levels) || levels < 1) throw new RqvaeError('ERR_OPTION', `levels must be a positive integer, found ${levels}`);
  const args = labelArgs(titles, terms, names);
  const flat = Uint32Array.from(codes);
  await initWasm();
  let json;
  try {
    json = labelsJson(flat, levels, args.json, terms);
  } catch (e) {
    throw toError(e, 'prefixLabels');
  }
  return withNames(JSON.parse(json), args.named);
}
