// IdTable: which item has which semantic ID, unique and stable as the catalog grows.
//
// The table and its rules live in the Rust crate (the CLI's `rqvae-train assign` runs the same
// code), so the package and the CLI give the same table for the same inputs. IDs come from the
// canonical CPU computation, whatever backend the encoder was loaded with.
//
// A table lives only in the wasm instance's memory. If that instance traps, the package replaces
// it (js/wasm.js) and the table is gone: every later call on it rejects with ERR_WASM_TRAP,
// saying to load it again from its last saved JSON Lines. (Keeping a copy in JavaScript would
// cost a serialisation of the whole table after every add.)

import { WasmIdTable, f16ToF32 } from '../pkg/rqvae.js';
import { combineAddReports } from './add-reports.js';
import { labelArgs, namesMap, withNames } from './labels.js';
import { assignInBatches } from './assign-batches.js';
import { checkRows, toBytes, wasmEncoders } from './checks.js';
import { RqvaeError, toError } from './errors.js';
import { SentenceEncoder } from './sentence-encoder.js';
import { checkBatchSize, maxBatchRows } from './limits.js';
import { onLiveWasm, wasmGeneration } from './wasm.js';

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Reports come from Rust in snake_case; JavaScript callers get camelCase keys. */
function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelKeys(v)]));
  }
  return value;
}

/**
 * The encoder's way to run `fn(wasmEncoder)` on the running instance (see Encoder's #call): it
 * rebuilds its Rust object after a trap.
 * @returns {(what: string, fn: (inner: any) => any) => Promise<any>}
 */
function wasmEncoderOf(encoder) {
  const call = wasmEncoders.get(encoder);
  if (!call) throw new RqvaeError('ERR_FREED', 'encoder must be a loaded Encoder that has not been freed');
  return call;
}

/**
 * Rows per `add` call into the wasm module by default: 16,384 rows of 768 took the module to
 * 163 MiB where 65,536 took it to 556 MiB, in the same time (65,536 random rows: 8.9 s vs 9.0 s).
 */
const DEFAULT_ADD_BATCH = 16_384;

const lostError = () => new RqvaeError('ERR_WASM_TRAP', 'this ID table was lost: the wasm module trapped in an earlier call and was restarted, and a table lives in its memory. Load it again from its last saved JSON Lines (IdTable.load(saved)) and add again the rows added since');

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

/**
 * The token offset of the token exports' options, checked before wasm sees it: a non-negative
 * safe integer (the module takes a float, which it would otherwise round or saturate).
 */
function tokenOffsetOf(options, what) {
  if (options === undefined) return 0;
  if (options === null || typeof options !== 'object') {
    throw new RqvaeError('ERR_OPTION', `${what}: options must be an object such as { tokenOffset: 0 }, got ${String(options)}`);
  }
  const { tokenOffset = 0 } = options;
  if (!Number.isSafeInteger(tokenOffset) || tokenOffset < 0) {
    const shown = typeof tokenOffset === 'string' ? JSON.stringify(tokenOffset) : String(tokenOffset);
    throw new RqvaeError('ERR_OPTION', `${what}: tokenOffset must be a non-negative safe integer (the token id of <a_0>, e.g. a language model's vocabulary size), got ${shown}`);
  }
  return tokenOffset;
}

/** The vectors of `titles` from `textEncoder`, checked to fit `encoder`'s model. */
async function embedTitles(titles, textEncoder, encoder, options) {
  if (!(textEncoder instanceof SentenceEncoder)) {
    throw new RqvaeError('ERR_INPUT', 'rows are titles (an array of strings): pass the SentenceEncoder that makes their vectors as the textEncoder option');
  }
  const inputDim = encoder.config.input_dim;
  if (textEncoder.dim !== inputDim) {
    throw new RqvaeError('ERR_DIMENSION', `the text model makes ${textEncoder.dim}-d vectors but the ID model expects ${inputDim}-d: use the ID model trained on this text model's vectors`);
  }
  const blank = titles.findIndex((t) => typeof t === 'string' && t.trim() === '');
  if (blank >= 0) {
    throw new RqvaeError('ERR_INPUT', `title ${blank} is ${titles[blank] === '' ? 'empty' : 'blank'}: an item needs a title to get a meaningful ID`);
  }
  return textEncoder.embed(titles, options);
}

export class IdTable {
  /** The WasmIdTable, made in instance #generation (undefined once freed or lost). */
  #inner;
  #generation;
  #lost = false;

  constructor(inner, generation) {
    this.#inner = inner;
    this.#generation = generation;
  }

  /**
   * An empty table for `encoder`'s model.
   * @param {{ reassign?: boolean }} [options] `reassign: false` resolves collisions with the
   *   disambiguation code only (TIGER-style)
   */
  static async create(encoder, { reassign = true } = {}) {
    // The generation read in the same step as the table is made: it is the table's instance.
    const [made, gen] = await wasmEncoderOf(encoder)('creating an ID table', (inner) => [new WasmIdTable(inner, reassign), wasmGeneration()]);
    return new IdTable(made, gen);
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
    let text;
    try {
      text = typeof jsonl === 'string' ? jsonl : new TextDecoder().decode(toBytes(jsonl, 'the table'));
    } catch (e) {
      // Bytes longer than the engine's longest string (V8: 512 MiB).
      throw toError(e, 'reading the table');
    }
    return onLiveWasm((gen) => {
      try {
        return new IdTable(WasmIdTable.fromJsonl(text), gen);
      } catch (e) {
        throw toError(e, 'loading the table');
      }
    });
  }

  /** The Rust table, if it is still there: not freed, and its instance has not trapped since. */
  #live() {
    if (this.#lost) throw lostError();
    if (!this.#inner) throw new RqvaeError('ERR_FREED', 'this table has been freed');
    if (this.#generation !== wasmGeneration()) {
      // Forget the dead instance's object without calling into any instance.
      this.#inner.__destroy_into_raw();
      this.#inner = undefined;
      this.#lost = true;
      throw lostError();
    }
    return this.#inner;
  }

  /** `fn(table)` on the live table; a trap in it loses the table (and says so). */
  #use(what, fn) {
    const table = this.#live();
    try {
      return fn(table);
    } catch (e) {
      throw toError(e, what);
    }
  }

  /**
   * Gives IDs to `rows` (one item per row) without changing any existing line. Items whose id is
   * already in the table keep their ID; if their embedding now gives other codes they are
   * reported in `changed` (and re-assigned only with `reassignChanged`). Rejects, leaving the
   * table as it was, for another model's encoder or bad input.
   * Rows go into the wasm module `batchSize` at a time (default 16,384, at most 65,536 rows of
   * 768 values), giving the same table and report as one call. With `reassignChanged` they
   * cannot be split: up to 65,536 rows go in one call, more are refused (ERR_TOO_LARGE).
   * Rows may also be titles (an array of strings) with `textEncoder`, a SentenceEncoder whose
   * vectors the encoder's model was trained on: they are embedded first.
   * @param {Float32Array | Uint16Array | string[]} rows float32 values, float16 bit patterns, or
   *   titles
   * @param {{ ids?: (number|string)[], dim?: number, reassignChanged?: boolean, batchSize?: number,
   *   textEncoder?: import('./sentence-encoder.js').SentenceEncoder,
   *   onProgress?: (p: { done: number, total: number }) => void, signal?: AbortSignal }} [options]
   *   without `ids`, an item's id is its row number counted on from the table's size;
   *   `onProgress` and `signal` apply to embedding titles
   */
  async add(encoder, rows, { ids, dim, reassignChanged = false, batchSize, textEncoder, onProgress, signal } = {}) {
    this.#live();
    const withEncoder = wasmEncoderOf(encoder);
    // Titles: an array of strings, or any array given with a text encoder (whose checks name
    // an element that is not a string). Other arrays get the rows' message below.
    if (Array.isArray(rows) && (textEncoder !== undefined || (rows.length > 0 && rows.every((r) => typeof r === 'string')))) {
      rows = await embedTitles(rows, textEncoder, encoder, { onProgress, signal });
      this.#live();
    }
    const { n, width, isF16 } = checkRows(rows, dim, encoder.config.input_dim);
    const json = idsJson(ids, n);
    const cap = maxBatchRows(width);
    const batch = checkBatchSize(batchSize, width, DEFAULT_ADD_BATCH);
    let report;
    if (n <= batch || (reassignChanged && n <= cap)) {
      report = await withEncoder('IdTable.add', (wasmEncoder) => this.#use('IdTable.add', (table) => {
        const values = isF16 ? f16ToF32(rows) : rows;
        return JSON.parse(table.assign(wasmEncoder, values, width, json, Boolean(reassignChanged)));
      }));
    } else if (reassignChanged) {
      throw new RqvaeError('ERR_TOO_LARGE', `${n.toLocaleString('en-US')} rows with reassignChanged: re-assigning changed items needs every row in one call into the wasm module, and one call takes at most ${cap.toLocaleString('en-US')} rows of ${width} values (its memory is at most 4 GiB). Add them in several calls of at most that many rows (each call re-assigns the changed items among its own rows), or without reassignChanged, which batches by itself`);
    } else {
      const reports = await withEncoder('IdTable.add', (wasmEncoder) => this.#use('IdTable.add', (table) => assignInBatches(table, wasmEncoder, {
        rows, n, width, isF16, ids, batchSize: batch, toF32: f16ToF32,
      })));
      return combineAddReports(reports.map(camelKeys));
    }
    return camelKeys(report);
  }

  /** Items in the table. */
  get size() {
    return this.#use('IdTable.size', (table) => table.size);
  }

  /** `{ format, version, model, levels, codebookSize, resolution }`. */
  get header() {
    return camelKeys(JSON.parse(this.#use('IdTable.header', (table) => table.headerJson())));
  }

  /** Every entry in table order: `{ id, codes, tokens, reassignedFrom }` (`null` if not moved). */
  entries() {
    return camelKeys(JSON.parse(this.#use('IdTable.entries', (table) => table.entriesJson())));
  }

  /** Uniqueness, collisions and per-level balance of the assigned IDs. */
  quality() {
    return camelKeys(JSON.parse(this.#use('IdTable.quality', (table) => table.qualityJson())));
  }

  /** Churn from `previous` to this table: `{ common, changed, churn, onlyPrevious, onlyCurrent }`. */
  churn(previous) {
    if (!(previous instanceof IdTable)) throw new RqvaeError('ERR_INPUT', 'previous must be an IdTable');
    const before = previous.#live();
    return camelKeys(JSON.parse(this.#use('IdTable.churn', (table) => table.churnJson(before))));
  }

  /** The table as JSON Lines (the format `load` reads and `rqvae-train assign` writes). */
  toJsonl() {
    return this.#use('IdTable.toJsonl', (table) => table.toJsonl());
  }

  /** `item_id,sid_0,…` with the disambiguation code last. */
  toCsv() {
    return this.#use('IdTable.toCsv', (table) => table.toCsv());
  }

  /** LC-Rec's index: `{"<item id>": ["<a_5>", …], …}`. */
  toLcRecJson() {
    return this.#use('IdTable.toLcRecJson', (table) => table.toLcRecJson());
  }

  /**
   * The vocabulary of the table's IDs for a generative recommender: one token per (level, code),
   * token id `tokenOffset + level × codebookSize + code`, the disambiguation level last (sized by
   * the largest disambiguation code in the table). The same JSON as `rqvae-train tokens` writes
   * as vocabulary.json.
   * @param {{ tokenOffset?: number }} [options] the token id of `<a_0>` (default 0), e.g. a
   *   language model's vocabulary size to put the IDs after its own tokens
   * @returns {string} JSON
   */
  toVocabularyJson(options) {
    const offset = tokenOffsetOf(options, 'IdTable.toVocabularyJson');
    return this.#use('IdTable.toVocabularyJson', (table) => table.toVocabularyJson(offset));
  }

  /**
   * Every item's tokens and token ids, one JSON object a line in table order:
   * `{"id":…,"tokens":"<a_12><b_200><c_7><d_0>","token_ids":[12,456,519,768]}` (tokens.jsonl).
   * @param {{ tokenOffset?: number }} [options]
   * @returns {string}
   */
  toTokensJsonl(options) {
    const offset = tokenOffsetOf(options, 'IdTable.toTokensJsonl');
    return this.#use('IdTable.toTokensJsonl', (table) => table.toTokensJsonl(offset));
  }

  /**
   * Every item's tokens as CSV: `item_id,tokens,token_ids`, the token ids space-separated
   * (tokens.csv).
   * @param {{ tokenOffset?: number }} [options]
   * @returns {string}
   */
  toTokensCsv(options) {
    const offset = tokenOffsetOf(options, 'IdTable.toTokensCsv');
    return this.#use('IdTable.toTokensCsv', (table) => table.toTokensCsv(offset));
  }

  /**
   * The prefix tree of the table's IDs for constrained beam search (prefix-tree.json): `next`
   * maps the token ids generated so far (comma-joined, `""` first) to the ids allowed next,
   * `items` each full ID to its item id.
   * @param {{ tokenOffset?: number }} [options]
   * @returns {string} JSON
   */
  toPrefixTreeJson(options) {
    const offset = tokenOffsetOf(options, 'IdTable.toPrefixTreeJson');
    return this.#use('IdTable.toPrefixTreeJson', (table) => table.toPrefixTreeJson(offset));
  }

  /**
   * A label for every prefix (level A, then (A, B), …, each level in code order), from the
   * entries' titles: the terms most distinctive of the prefix against its siblings (class-based
   * TF-IDF). An entry without a title (null, undefined or '') counts in `items` but not in the
   * terms; a prefix with no titled entry gets an empty label.
   * @param {(string|null|undefined)[]} titles one per entry, in table order (as `entries()`)
   * @param {{ terms?: number, names?: Map<string, string> | Record<string, string> }} [options]
   *   `terms` per label (default 2); `names`: an editor's names by prefix key (`readLabels`),
   *   given back as each label's `name`
   * @returns {{ prefix: number[], key: string, items: number, titled: number, terms: string[],
   *   label: string, name: string | null }[]}
   */
  prefixLabels(titles, { terms = 2, names } = {}) {
    const args = labelArgs(titles, terms, names);
    return withNames(JSON.parse(this.#use('IdTable.prefixLabels', (table) => table.prefixLabelsJson(args.json, terms))), args.named);
  }

  /**
   * An editor's names from a labels file (as `labelsFile` writes it), checked against this
   * table: a Map of prefix key (`"51"`, `"51/3"`) → name. Throws ERR_MODEL_MISMATCH for a file
   * made for another model's table (both fingerprints named), ERR_LABELS for a malformed one.
   * @param {string} text
   * @returns {Map<string, string>}
   */
  readLabels(text) {
    if (typeof text !== 'string') throw new RqvaeError('ERR_INPUT', 'a labels file is JSON text (a string)');
    const names = JSON.parse(this.#use('IdTable.readLabels', (table) => table.readLabelsJson(text)));
    return new Map(Object.entries(names));
  }

  /**
   * The labels file of this table for `names` (prefix key → name; names are trimmed, a blank
   * one is refused: delete the key to show the automatic label again).
   * @param {Map<string, string> | Record<string, string>} names
   * @returns {string} JSON
   */
  labelsFile(names) {
    const json = JSON.stringify(Object.fromEntries(namesMap(names)));
    return this.#use('IdTable.labelsFile', (table) => table.labelsFileJson(json));
  }

  /**
   * The positions (in table order) of the entries under `prefix`: codes from level A down, or
   * a prefix key (`"51/3"`).
   * @param {number[] | string} prefix
   * @returns {Uint32Array}
   */
  selectPrefix(prefix) {
    const codes = typeof prefix === 'string' ? prefix.split('/').map(Number) : prefix;
    if (!Array.isArray(codes) || codes.length === 0 || !codes.every((c) => Number.isInteger(c) && c >= 0 && c <= 0xffffffff)) {
      throw new RqvaeError('ERR_INPUT', `prefix must be one or more codes (an array of integers, or a key such as "51/3"), found ${JSON.stringify(prefix)}`);
    }
    return this.#use('IdTable.selectPrefix', (table) => table.prefixRows(Uint32Array.from(codes)));
  }

  /** Releases the table's wasm memory; later calls throw (ERR_FREED). */
  free() {
    if (this.#inner) {
      // A table of a dead instance is only forgotten: its pointer means nothing in the new one.
      if (this.#generation === wasmGeneration()) this.#inner.free();
      else this.#inner.__destroy_into_raw();
    }
    this.#inner = undefined;
    this.#lost = false;
  }
}
