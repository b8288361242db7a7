// The worker's side of the ID table: reads an existing table file, checks that it was made by the
// model in use, gives the run's items their unique IDs batch by batch as the embeddings stream in
// (so no more than a batch of embeddings is ever held), and packs what the page shows of the
// table. The table's rules live in the package (js/id-table.js, the same code as
// `rqvae-train assign`), so the page's table is the one the package and the CLI make: items are
// served in row order, so adding the rows batch by batch gives the table of adding them at once.

import { IdTable } from './js/index.js';
import { combineAddReports } from './js/add-reports.js';
import { InputError } from './inputs.js';

/** An item id as the table keys it: integers and strings are different ids (5 is not "5"). */
const idKey = (id) => (typeof id === 'number' ? `n${id}` : `s${id}`);

/** serde's "at line 1 column 9" counts within the table line the message already names. */
function tidy(message) {
  return message.replace(/ at line 1 column (\d+)$/, ' (at column $1)');
}

/**
 * Reads and parses an existing table. Resolves to `{ name, text, items }`; errors name the file
 * and, for a bad line, its line number.
 */
export async function readTable(file) {
  let text;
  try {
    text = await file.text();
  } catch (e) {
    throw new InputError(file.name, `could not be read (${e.message})`);
  }
  let table;
  try {
    table = await IdTable.load(text);
  } catch (e) {
    throw new InputError(file.name, tidy(e.message));
  }
  try {
    return { name: file.name, text, items: table.size, model: table.header.model };
  } finally {
    table.free();
  }
}

/** Refuses a table made by another model than `encoder`'s, before any embeddings are read. */
export function checkTableModel(existing, encoder, modelName) {
  if (existing.model === encoder.fingerprint) return;
  throw new InputError(existing.name,
    `this ID table was made by another model (${existing.model}), but the model in use, ${modelName}, is ${encoder.fingerprint}. `
    + 'A table only grows with the model that made it: choose that model, or remove the table to give every item a new ID.');
}

/** Which input a failed `add` is about: its ids, the table, or else the embeddings. */
function blame(message, { idsName, tableName, embeddingsName }) {
  if (/^id .* is given to rows/.test(message)) return idsName;
  if (tableName && /^the table /.test(message)) return tableName;
  return embeddingsName;
}

function rowsWhere(n, keep) {
  const out = [];
  for (let r = 0; r < n; r++) if (keep(r)) out.push(r);
  return Int32Array.from(out);
}

/**
 * The run's ID table, grown batch by batch: `add` each batch of rows as it is encoded, then
 * `finish` once. `existing` (from readTable) is grown, else a new table is made.
 */
export class TableJob {
  #encoder;
  #table;
  #previous;
  #existing;
  #names;
  #rowOf = new Map(); // idKey → row, to refuse an id given twice in the whole file
  #reports = []; // of each add, combined once at the end

  constructor(encoder, table, previous, existing, names) {
    this.#encoder = encoder;
    this.#table = table;
    this.#previous = previous;
    this.#existing = existing;
    this.#names = names;
  }

  /**
   * @param {{ idsName: string, embeddingsName: string, idsAreRowNumbers: boolean }} names
   *   `idsName`: the file the ids come from
   */
  static async start(encoder, existing, names) {
    const previous = existing ? await IdTable.load(existing.text) : null;
    const table = existing ? await IdTable.load(existing.text) : await IdTable.create(encoder);
    return new TableJob(encoder, table, previous, existing, names);
  }

  /**
   * Ids the table can key: unique strings and safe integers, over the whole run. (The package
   * checks within a batch too; here the message names the file and the rows.)
   */
  #checkIds(ids, start) {
    const { idsName, idsAreRowNumbers } = this.#names;
    if (idsAreRowNumbers) return;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const r = start + i;
      if (!(typeof id === 'string' || Number.isSafeInteger(id))) {
        throw new InputError(idsName, `the id of row ${r} (rows count from 0) is ${JSON.stringify(id)}; an ID table names items by strings or integers (write it as a string to keep it)`);
      }
      const first = this.#rowOf.get(idKey(id));
      if (first !== undefined) {
        throw new InputError(idsName, `id ${JSON.stringify(id)} names rows ${first} and ${r} (rows count from 0); an ID table needs one id per item`);
      }
      this.#rowOf.set(idKey(id), r);
    }
  }

  /** Gives rows `start…` (their embeddings `rows`, `dim` wide, and item ids `ids`) their IDs. */
  async add(rows, ids, dim, start) {
    this.#checkIds(ids, start);
    let report;
    try {
      report = await this.#table.add(this.#encoder, rows, { ids, dim });
    } catch (e) {
      const { idsName, embeddingsName } = this.#names;
      throw new InputError(blame(e.message, { idsName, tableName: this.#existing?.name, embeddingsName }), e.message);
    }
    this.#reports.push(report);
  }

  /**
   * What the page needs of the table once every row was added (see the result's `table` in
   * worker.js) and the typed arrays to transfer. `itemIds`: every row's id.
   */
  finish(itemIds) {
    const table = this.#table;
    const levels = this.#encoder.config.levels;
    const n = itemIds.length;
    const byId = new Map(table.entries().map((e) => [idKey(e.id), e]));
    const before = new Set(this.#previous ? this.#previous.entries().map((e) => idKey(e.id)) : []);
    const report = combineAddReports(this.#reports);
    const changed = new Set(report.changed.map(idKey));
    const width = levels + 1;
    const ids = new Uint32Array(n * width);
    const reassignedFrom = new Int32Array(n).fill(-1);
    const kept = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const key = idKey(itemIds[r]);
      const entry = byId.get(key);
      ids.set(entry.codes, r * width);
      if (entry.reassignedFrom != null) reassignedFrom[r] = entry.reassignedFrom;
      kept[r] = before.has(key) ? 1 : 0;
    }
    const rows = {
      new: rowsWhere(n, (r) => !kept[r]),
      kept: rowsWhere(n, (r) => kept[r]),
      changed: rowsWhere(n, (r) => changed.has(idKey(itemIds[r]))),
      moved: rowsWhere(n, (r) => !kept[r] && reassignedFrom[r] >= 0),
      suffixed: rowsWhere(n, (r) => !kept[r] && ids[r * width + levels] > 0),
    };
    const existing = this.#existing;
    const out = {
      ids,
      reassignedFrom,
      rows,
      idsAreRowNumbers: this.#names.idsAreRowNumbers,
      loaded: existing ? { name: existing.name, items: existing.items } : null,
      size: table.size,
      report,
      quality: table.quality(),
      // Measured between the loaded and the updated table, so "existing IDs changed" is what
      // happened to the file, not what `add` promises.
      churn: this.#previous ? table.churn(this.#previous) : null,
      exports: {
        jsonl: table.toJsonl(),
        csv: table.toCsv(),
        lcrec: table.toLcRecJson(),
        vocabulary: table.toVocabularyJson(),
        tokens: table.toTokensJsonl(),
        prefixTree: table.toPrefixTreeJson(),
      },
    };
    const transfer = [ids.buffer, reassignedFrom.buffer, ...Object.values(rows).map((a) => a.buffer)];
    return { table: out, transfer };
  }

  /** Releases the tables' wasm memory (after `finish`, or when the run failed). */
  free() {
    this.#table.free();
    this.#previous?.free();
  }
}
