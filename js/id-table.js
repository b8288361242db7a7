// IdTable: which item has which semantic ID, unique and stable as the catalog grows.
//
// The table and its rules live in the Rust crate (the CLI's `rqvae-train assign` runs the same
// code), so the package and the CLI give the same table for the same inputs. IDs come from the
// canonical CPU computation, whatever backend the encoder was loaded with.

import { WasmIdTable, f16ToF32 } from '../pkg/rqvae.js';
import { checkRows, toBytes, wasmEncoders } from './checks.js';
import { RqvaeError, toError } from './errors.js';
import { initWasm } from './wasm.js';

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Reports come from Rust in snake_case; JavaScript callers get camelCase keys. */
function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelKeys(v)]));
  }
  return value;
}

function wasmEncoderOf(encoder) {
  const inner = wasmEncoders.get(encoder);
  if (!inner) throw new RqvaeError('ERR_FREED', 'encoder must be a loaded Encoder that has not been freed');
  return inner;
}

function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw toError(e);
  }
}

function idsJson(ids, n) {
  if (ids === undefined) return '';
  if (!Array.isArray(ids)) throw new RqvaeError('ERR_INPUT', 'ids must be an array of integers or strings, one per row');
  if (ids.length !== n) throw new RqvaeError('ERR_IDS', `${ids.length} ids for ${n} rows: give one id per row`);
  const bad = ids.findIndex((id) => !(typeof id === 'string' || Number.isSafeInteger(id)));
  if (bad >= 0) {
    throw new RqvaeError('ERR_IDS', `ids[${bad}] is ${JSON.stringify(ids[bad]) ?? String(ids[bad])}: an id must be a string or a safe integer`);
  }
  return JSON.stringify(ids);
}

export class IdTable {
  #inner;

  constructor(inner) {
    this.#inner = inner;
  }

  /**
   * An empty table for `encoder`'s model.
   * @param {{ reassign?: boolean }} [options] `reassign: false` resolves collisions with the
   *   disambiguation code only (TIGER-style)
   */
  static async create(encoder, { reassign = true } = {}) {
    await initWasm();
    return new IdTable(call(() => new WasmIdTable(wasmEncoderOf(encoder), reassign)));
  }

  /** A new table holding IDs for `rows`: `create` then `add`. Resolves to `{ table, report }`. */
  static async assign(encoder, rows, options = {}) {
    const table = await IdTable.create(encoder, options);
    try {
      return { table, report: await table.add(encoder, rows, options) };
    } catch (e) {
      table.free();
      throw e;
    }
  }

  /** Parses and checks a table's JSON Lines (a string, or its UTF-8 bytes). */
  static async load(jsonl) {
    await initWasm();
    const text = typeof jsonl === 'string' ? jsonl : new TextDecoder().decode(toBytes(jsonl, 'the table'));
    return new IdTable(call(() => WasmIdTable.fromJsonl(text)));
  }

  #live() {
    if (!this.#inner) throw new RqvaeError('ERR_FREED', 'this table has been freed');
    return this.#inner;
  }

  /**
   * Gives IDs to `rows` (one item per row) without changing any existing line. Items whose id is
   * already in the table keep their ID; if their embedding now gives other codes they are
   * reported in `changed` (and re-assigned only with `reassignChanged`). Rejects, leaving the
   * table as it was, for another model's encoder or bad input.
   * @param {Float32Array | Uint16Array} rows float32 values, or float16 bit patterns
   * @param {{ ids?: (number|string)[], dim?: number, reassignChanged?: boolean }} [options]
   *   without `ids`, an item's id is its row number counted on from the table's size
   */
  async add(encoder, rows, { ids, dim, reassignChanged = false } = {}) {
    const table = this.#live();
    const wasmEncoder = wasmEncoderOf(encoder);
    const { n, width, isF16 } = checkRows(rows, dim, encoder.config.input_dim);
    const json = idsJson(ids, n);
    const values = isF16 ? f16ToF32(rows) : rows;
    const report = call(() => table.assign(wasmEncoder, values, width, json, Boolean(reassignChanged)));
    return camelKeys(JSON.parse(report));
  }

  /** Items in the table. */
  get size() {
    return this.#live().size;
  }

  /** `{ format, version, model, levels, codebookSize, resolution }`. */
  get header() {
    return camelKeys(JSON.parse(this.#live().headerJson()));
  }

  /** Every entry in table order: `{ id, codes, tokens, reassignedFrom }` (`null` if not moved). */
  entries() {
    return camelKeys(JSON.parse(this.#live().entriesJson()));
  }

  /** Uniqueness, collisions and per-level balance of the assigned IDs. */
  quality() {
    return camelKeys(JSON.parse(this.#live().qualityJson()));
  }

  /** Churn from `previous` to this table: `{ common, changed, churn, onlyPrevious, onlyCurrent }`. */
  churn(previous) {
    if (!(previous instanceof IdTable)) throw new RqvaeError('ERR_INPUT', 'previous must be an IdTable');
    return camelKeys(JSON.parse(this.#live().churnJson(previous.#live())));
  }

  /** The table as JSON Lines (the format `load` reads and `rqvae-train assign` writes). */
  toJsonl() {
    return this.#live().toJsonl();
  }

  /** `item_id,sid_0,…` with the disambiguation code last. */
  toCsv() {
    return this.#live().toCsv();
  }

  /** LC-Rec's index: `{"<item id>": ["<a_5>", …], …}`. */
  toLcRecJson() {
    return this.#live().toLcRecJson();
  }

  /** Releases the table's wasm memory; later calls throw. */
  free() {
    this.#inner?.free();
    this.#inner = undefined;
  }
}
