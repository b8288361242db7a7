// The demo's module worker: loads the model, streams the embeddings file through the package's
// encodeStream (its readers check every row, batch by batch), gives every item a unique ID in an
// ID table (id-table-job.js, new or loaded) batch by batch too, and posts progress. Only the IDs,
// the item ids and titles are kept, never all the embeddings, so a file of any size fits (a
// multi-gigabyte .npy included). The page's main thread only renders. Every request this worker
// makes is for the site's own files (wasm, default model, sample); user files are read from File
// objects and never sent anywhere.

import { TableJob, checkTableModel, readTable } from './id-table-job.js';
import {
  Encoder, IdTable, codeUsage, encodeStream, initWasm, mapLayout, prefixLabels, readItems,
  webgpuAdapterKind, webgpuAvailable,
} from './js/index.js';
import { InputError, formatBytes, kindOf } from './inputs.js';
import { collisionGroups } from './stats.js';
import { VectorStore } from './neighbours.js';
import { layoutTree, transferables } from './tree.js';
import {
  TEXT_ID_MODEL, TextSession, embedTitles, isTitlesOnly, readTitleItems, textModel,
} from './titles.js';

const SAMPLE = {
  embeddings: new URL('./sample/games-3000.f16.npy', import.meta.url),
  titles: new URL('./sample/games-3000.jsonl', import.meta.url),
  name: 'games-3000.f16.npy',
  titlesName: 'games-3000.jsonl',
};
const DEFAULT_MODEL = new URL('./models/default.safetensors', import.meta.url);
/** Rows read, encoded and added to the ID table at a time: about 12 MB of 768-d float32. */
const BATCH_ROWS = 4096;
/**
 * The most items the map lays out: its neighbour graph and descent take about 1 KB per item in
 * the wasm module, and a minute or more of one core past this (docs/demo.md has the figures).
 */
const MAX_MAP_ITEMS = 250_000;

let cached = null; // { key, encoder, name }
let defaultBytes = null; // Promise of the default model's bytes, fetched once
let running = null; // AbortController of the job in progress
let session = null; // the last titles run's TextSession, for the "new item" box
let lastTable = null; // the last result's ID table as JSON Lines: prefix names belong to it
let vectorStore = new VectorStore(); // the last result's vectors, for "items like this one"
let lastRun = null; // what that run's result was built from, to rebuild it after an add
let mapRun = null; // AbortController of the map being laid out

const fmt = (n) => n.toLocaleString('en-US');

function post(message, transfer) {
  self.postMessage(message, transfer ?? []);
}

/** Posts progress at most every 60 ms (and always at the end of a phase). */
function progressReporter(job, phase, label) {
  let last = 0;
  return (done, total, detail) => {
    const now = performance.now();
    if (done < total && now - last < 60) return;
    last = now;
    post({ type: 'progress', job, phase, label, done, total, detail });
  };
}

async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new InputError(what, `could not load it (${e.message})`);
  }
  if (!response.ok) throw new InputError(what, `could not load it (HTTP ${response.status})`);
  return response;
}

/**
 * The encoder for `model` (a File, or null for the default: the mpnet model, or with `text` the
 * one trained on the text model's vectors) on `backend`, cached between runs.
 */
async function getEncoder(model, backend, job, text = false) {
  const shipped = text ? 'minilm' : 'default';
  const key = model ? `${model.name}|${model.size}|${model.lastModified}|${backend}` : `${shipped}|${backend}`;
  if (cached?.key === key) return cached;
  const name = model ? model.name : `${shipped}.safetensors`;
  post({ type: 'progress', job, phase: 'model', label: `Loading the model ${name}`, done: 0, total: 1 });
  let bytes;
  if (model) {
    try {
      bytes = new Uint8Array(await model.arrayBuffer());
    } catch (e) {
      throw new InputError(model.name, `could not be read (${e.message})`);
    }
  } else if (text) {
    bytes = new Uint8Array(await (await fetchOk(TEXT_ID_MODEL, name)).arrayBuffer());
  } else {
    defaultBytes ??= fetchOk(DEFAULT_MODEL, 'default.safetensors')
      .then((r) => r.arrayBuffer())
      .catch((e) => {
        defaultBytes = null;
        throw e;
      });
    bytes = new Uint8Array(await defaultBytes);
  }
  if (backend === 'webgpu' && !(await webgpuAvailable())) {
    throw new Error('WebGPU was chosen but this browser offers no WebGPU adapter; choose Auto or CPU');
  }
  let encoder;
  try {
    encoder = await Encoder.load(bytes, { backend });
  } catch (e) {
    // Decided by the package's error code: only bad weights are the model file's fault.
    if (e.code !== 'ERR_WEIGHTS') throw e;
    throw new InputError(name, e.message.replace(/^weights: /, ''));
  }
  // The session's encoder is freed with the session.
  if (cached && cached.encoder !== session?.encoder) cached.encoder.free();
  cached = { key, encoder, name, isDefault: !model };
  return cached;
}

function modelInfo(entry) {
  return { name: entry.name, isDefault: entry.isDefault, config: entry.encoder.config };
}

/**
 * What a run reads: `{ embeddings, name, format, titles, titlesName }`, the Blobs of the
 * embeddings and of an .npy's titles file (or null).
 */
async function inputsOf(source) {
  if (source.kind === 'sample') {
    const embeddings = await (await fetchOk(SAMPLE.embeddings, SAMPLE.name)).blob();
    const titles = await (await fetchOk(SAMPLE.titles, SAMPLE.titlesName)).blob();
    return { embeddings, name: SAMPLE.name, format: 'npy', titles, titlesName: SAMPLE.titlesName };
  }
  const file = source.embeddings;
  const format = kindOf(file.name);
  if (format !== 'npy' && format !== 'jsonl' && format !== 'csv') {
    throw new InputError(file.name, 'unknown file type; embeddings must be .npy, .jsonl or .csv');
  }
  if (source.titles && format !== 'npy') {
    throw new InputError(source.titles.name, `a titles file names the rows of an .npy; ${file.name} carries its own ids and titles`);
  }
  return { embeddings: file, name: file.name, format, titles: source.titles, titlesName: source.titles?.name ?? null };
}

/** A typed array (of `Type`) that grows as batches come (or is sized at once from a header). */
class GrowingArray {
  constructor(Type, capacity = 1 << 16) {
    this.data = new Type(capacity);
    this.length = 0;
  }

  reserve(size) {
    if (size <= this.data.length) return;
    const grown = new this.data.constructor(Math.max(size, 2 * this.data.length));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  push(values) {
    this.reserve(this.length + values.length);
    this.data.set(values, this.length);
    this.length += values.length;
  }

  result() {
    return this.length === this.data.length ? this.data : this.data.slice(0, this.length);
  }
}

/** The items' latents for the map, batch by batch, or why the map has none. */
class LatentBuffer {
  values = new GrowingArray(Float32Array, 0);
  rows = 0;
  unavailable = null;
  ms = 0; // time spent computing them

  fits(rows) {
    if (this.unavailable) return false;
    if (rows <= MAX_MAP_ITEMS) return true;
    this.unavailable = `the map lays out at most ${fmt(MAX_MAP_ITEMS)} items; this file has more`;
    this.values = new GrowingArray(Float32Array, 0);
    return false;
  }

  async push(encoder, rows, dim, count) {
    if (!this.fits(this.rows + count)) return;
    const t0 = performance.now();
    this.values.push(await encoder.latents(rows, { dim }));
    this.ms += performance.now() - t0;
    this.rows += count;
  }

  result() {
    return this.values.result();
  }
}

const rowNumbers = (start, count) => Array.from({ length: count }, (_, i) => start + i);

async function run({ job, source, model, backend }) {
  // The last result's map stops here: its positions must not reach the page after the new
  // result (a file with as many rows would show them for the wrong items).
  mapRun?.abort();
  const controller = new AbortController();
  running = controller;
  const { signal } = controller;
  let tableJob = null;
  try {
    const t0 = performance.now();
    const input = await inputsOf(source);
    const titlesOnly = await isTitlesOnly(input.embeddings, input.format);
    const entry = await getEncoder(model, backend, job, titlesOnly);
    const { encoder } = entry;
    const config = encoder.config;
    const levels = config.levels;
    // The table first: a table of another model is refused before the embeddings are read.
    let existing = null;
    if (source.table) {
      post({ type: 'progress', job, phase: 'table', label: `Reading the ID table ${source.table.name}`, done: 0, total: 1 });
      existing = await readTable(source.table);
      checkTableModel(existing, encoder, entry.isDefault ? 'the default model' : entry.name);
    }
    if (titlesOnly) {
      await runTitles({ job, backend, entry, input, existing, signal, t0 });
      return;
    }
    // An .npy's titles file: read whole first (it is the items' ids and titles, which the run
    // keeps anyway), checked against the header's row count before any row is encoded.
    let items = null;
    if (input.titles) {
      const report = progressReporter(job, 'read', `Reading ${input.titlesName}`);
      items = await readItems(input.titles, {
        name: input.titlesName, signal, onProgress: ({ bytesRead, totalBytes }) => report(bytesRead, totalBytes),
      });
    }
    const idsName = input.titlesName ?? input.name;
    const idsAreRowNumbers = input.format === 'npy' && !items;
    tableJob = await TableJob.start(encoder, existing, { idsName, embeddingsName: input.name, idsAreRowNumbers });

    const t1 = performance.now();
    const label = `Assigning IDs to ${input.name}`;
    post({ type: 'progress', job, phase: 'encode', label, done: 0, total: 1, detail: 'starting' });
    const report = progressReporter(job, 'encode', label);
    const ids = new GrowingArray(Uint16Array);
    const store = new VectorStore();
    const latents = new LatentBuffer();
    const itemIds = [];
    const titles = [];
    let rows = 0;
    let dim = 0;
    let dtype = 'float32';
    let tableMs = 0;
    const batches = encodeStream(encoder, input.embeddings, {
      name: input.name,
      format: input.format,
      batchRows: BATCH_ROWS,
      signal,
      onHeader: (header) => {
        if (items && items.ids.length !== header.rows) {
          throw new InputError(input.titlesName, `it names ${fmt(items.ids.length)} items but the embeddings have ${fmt(header.rows)} rows (line i names row i)`);
        }
        ids.reserve(header.rows * levels);
        store.fits(header.rows, header.dim);
        latents.fits(header.rows);
      },
      onProgress: ({ rowsDone, totalRows, bytesRead, totalBytes }) => {
        const counted = totalRows != null ? `${fmt(rowsDone)} of ${fmt(totalRows)} items` : `${fmt(rowsDone)} items`;
        const read = totalBytes != null ? `${formatBytes(bytesRead)} of ${formatBytes(totalBytes)}` : formatBytes(bytesRead);
        report(bytesRead, totalBytes ?? bytesRead, `${counted} (${read} read)`);
      },
    });
    for await (const batch of batches) {
      ids.push(batch.ids);
      let batchIds;
      if (batch.itemIds) {
        batchIds = batch.itemIds;
        for (let i = 0; i < batch.count; i++) {
          itemIds.push(batch.itemIds[i]);
          titles.push(batch.titles[i]);
        }
      } else {
        batchIds = items ? items.ids.slice(batch.start, batch.start + batch.count) : rowNumbers(batch.start, batch.count);
      }
      store.push(batch.rows, batch.dim, batch.count, batch.dtype === 'float16');
      await latents.push(encoder, batch.rows, batch.dim, batch.count);
      const tAdd = performance.now();
      await tableJob.add(batch.rows, batchIds, batch.dim, batch.start);
      tableMs += performance.now() - tAdd;
      rows += batch.count;
      dim = batch.dim;
      dtype = batch.dtype;
    }
    const streamMs = performance.now() - t1;
    if (signal.aborted) throw signal.reason;

    post({
      type: 'progress', job, phase: 'table', done: 0, total: 1,
      label: existing ? `Adding ${fmt(rows)} items to ${existing.name}` : `Giving ${fmt(rows)} items unique IDs`,
    });
    const nearest = ids.result();
    const allIds = items ? items.ids : itemIds.length ? itemIds : rowNumbers(0, rows);
    const allTitles = items ? items.titles : itemIds.length ? titles : new Array(rows).fill('');
    vectorStore = store;
    await postResult(job, {
      input, rows, dim, dtype, nearest, allIds, allTitles, entry, backend, tableJob,
      setupMs: t1 - t0, encodeMs: streamMs - tableMs, tableMs,
    });
    layoutMap(job, latents.unavailable ?? latents.result(), rows, latents.ms);
  } catch (e) {
    if (signal.aborted) {
      post({ type: 'cancelled', job });
    } else {
      post({ type: 'error', job, file: e.file ?? null, message: `${e.message ?? e}` });
    }
  } finally {
    // A titles run keeps its table for the "new item" box (its session frees it).
    if (tableJob !== session?.tableJob) tableJob?.free();
    if (running === controller) running = null;
  }
}

/**
 * Posts a run's result: the IDs, the table, the tree and the stats the page shows. `run` holds
 * what they are made from; a titles run's session rebuilds it after an added item.
 */
async function postResult(job, run, extra = {}) {
  const { input, rows, dim, dtype, nearest, allIds, allTitles, entry, backend, tableJob } = run;
  const { encoder } = entry;
  const config = encoder.config;
  const { levels } = config;
  const { table, transfer } = tableJob.finish(allIds);
  lastTable = table.exports.jsonl;
  const usage = await codeUsage(nearest, { levels, codebookSize: config.codebook_size });
  const tree = layoutTree(nearest, rows, levels);
  // Named as the chart groups them: by the nearest codes (items without a title add no terms).
  const labels = (await prefixLabels(nearest, { levels, titles: allTitles }))
    .map(({ key, label }) => ({ key, label }));
  // The session keeps its own copy: the result's arrays move to the page.
  const ids = nearest.slice();
  post({
    type: 'result',
    job,
    result: {
      name: input.name,
      titlesName: input.titlesName,
      rows,
      dim,
      dtype,
      ids,
      levels,
      codebookSize: config.codebook_size,
      itemIds: allIds,
      titles: allTitles,
      backend: encoder.backend,
      requestedBackend: backend,
      model: modelInfo(entry),
      setupMs: run.setupMs,
      encodeMs: run.encodeMs,
      tableMs: run.tableMs,
      levelStats: usage.levels.map((l, level) => ({ level, ...l })),
      tuples: { ...collisionGroups(nearest, rows, levels), unique: usage.unique, uniqueFraction: usage.unique / rows },
      tree,
      labels,
      table,
      text: run.text ?? null,
      ...extra,
    },
  }, [ids.buffer, ...transferables(tree), ...transfer]);
}

/**
 * A titles-only file: read every title (bad rows named), embed them with the text model, give
 * the vectors IDs with the model trained on that text model's vectors, and keep the session.
 */
async function runTitles({ job, backend, entry, input, existing, signal, t0 }) {
  const { encoder } = entry;
  const text = await textModel((label) => post({ type: 'progress', job, phase: 'model', label, done: 0, total: 1 }));
  if (encoder.config.input_dim !== text.dim) {
    throw new InputError(entry.name, `this model takes ${encoder.config.input_dim}-d vectors, but titles are embedded by all-MiniLM-L6-v2 at ${text.dim}-d: use the default model (for titles, the one trained on MiniLM vectors) or one trained on them`);
  }
  const read = progressReporter(job, 'read', `Reading ${input.name}`);
  const items = await readTitleItems(input.embeddings, input.name, input.format, {
    signal, onProgress: ({ bytesRead, totalBytes }) => read(bytesRead, totalBytes ?? bytesRead),
  });
  const rows = items.titles.length;
  const t1 = performance.now();
  const embedding = progressReporter(job, 'encode', `Embedding ${fmt(rows)} titles`);
  const vectors = await embedTitles(items.titles, {
    signal, onProgress: ({ done, total }) => embedding(done, total, `${fmt(done)} of ${fmt(total)} titles`),
  });
  const tEncode = performance.now();
  post({ type: 'progress', job, phase: 'encode', label: `Assigning IDs to ${fmt(rows)} titles`, done: 0, total: 1 });
  const nearest = await encoder.encode(vectors, { signal });
  const tTable = performance.now();
  const tableJob = await TableJob.start(encoder, existing, { idsName: input.name, embeddingsName: input.name, idsAreRowNumbers: false });
  try {
    await tableJob.add(vectors, items.ids, text.dim, 0);
  } catch (e) {
    tableJob.free();
    throw e;
  }
  if (signal.aborted) {
    tableJob.free();
    throw signal.reason;
  }
  vectorStore = new VectorStore();
  vectorStore.push(vectors, text.dim, rows, false);
  session?.free();
  session = new TextSession({ encoder, tableJob, vectors, itemIds: items.ids, titles: items.titles, nearest, levels: encoder.config.levels });
  lastRun = {
    input: { ...input, embeddings: null, titles: null },
    rows, dim: text.dim, dtype: 'float32', entry, backend, tableJob,
    setupMs: t1 - t0, encodeMs: tTable - t1, tableMs: performance.now() - tTable,
    text: { model: 'all-MiniLM-L6-v2', embedMs: tEncode - t1 },
  };
  await postResult(job, { ...lastRun, nearest, allIds: items.ids, allTitles: items.titles });
  await mapOfSession(job);
}

/** The map of the titles session's items (after a run, and again after an added item). */
async function mapOfSession(job) {
  const rows = session.rows;
  if (rows > MAX_MAP_ITEMS) {
    layoutMap(job, `the map lays out at most ${fmt(MAX_MAP_ITEMS)} items; this file has more`, rows);
    return;
  }
  const t0 = performance.now();
  const latents = await session.encoder.latents(session.vectors.subarray(0, rows * session.dim), { dim: session.dim });
  layoutMap(job, latents, rows, performance.now() - t0);
}

/**
 * Lays out the map of a result's `rows` items from their `latents` (or posts why there is none:
 * a string), posting the positions as they settle; a newer run's map stops this one.
 * `latentsMs`: the time the latents took (during the run), for the page to report.
 */
async function layoutMap(job, latents, rows, latentsMs = 0) {
  mapRun?.abort();
  if (typeof latents === 'string') {
    post({ type: 'map', job, rows, unavailable: latents });
    return;
  }
  const controller = new AbortController();
  mapRun = controller;
  const t0 = performance.now();
  let last = -Infinity;
  const dim = latents.length / rows;
  try {
    const positions = await mapLayout(latents, {
      dim,
      stepEpochs: 5,
      signal: controller.signal,
      onProgress: ({ epochsDone, epochs, positions }) => {
        const now = performance.now();
        // The start at once, then at most five frames a second while it settles: each is a copy
        // of every position.
        if (epochsDone === epochs || (epochsDone > 0 && now - last < 200)) return;
        last = now;
        post({ type: 'map', job, rows, positions, epochsDone, epochs, done: false, ms: now - t0, latentsMs }, [positions.buffer]);
      },
    });
    post({ type: 'map', job, rows, positions, epochsDone: null, epochs: null, done: true, ms: performance.now() - t0, latentsMs }, [positions.buffer]);
  } catch (e) {
    if (!controller.signal.aborted) post({ type: 'map', job, rows, unavailable: `${e.message ?? e}`.replace(/^map: /, '') });
  } finally {
    if (mapRun === controller) mapRun = null;
  }
}

/** The "new item" box: a title's ID, prefix and nearest items under the last titles run. */
async function probeItem({ job, title }) {
  try {
    if (!session) throw new InputError('the new item', 'load a titles file first: the new item joins its table');
    const p = await session.probe(title);
    post({
      type: 'probe',
      job,
      probe: {
        title: p.title,
        codes: p.codes,
        prefix: p.prefix,
        prefixItems: p.prefixItems,
        neighbours: p.neighbours.map(({ row, cosine }) => ({
          row, cosine, id: session.itemIds[row], title: session.titles[row],
          codes: Array.from(session.nearest.subarray(row * session.levels, (row + 1) * session.levels)),
        })),
      },
    });
  } catch (e) {
    post({ type: 'probe-error', job, message: `${e.message ?? e}` });
  }
}

/** Adds the typed title to the table and posts the updated result. */
async function addItem({ job, title, id }) {
  try {
    if (!session) throw new InputError('the new item', 'load a titles file first: the new item joins its table');
    const itemId = await session.add(title, id === '' || id == null ? undefined : id);
    vectorStore.push(session.vectors.subarray((session.rows - 1) * session.dim), session.dim, 1, false);
    lastRun.rows = session.rows;
    await postResult(job, {
      ...lastRun, nearest: session.nearest, allIds: session.itemIds, allTitles: session.titles,
    }, { added: { row: session.rows - 1, id: itemId } });
    await mapOfSession(job);
  } catch (e) {
    post({ type: 'probe-error', job, message: `${e.message ?? e}` });
  }
}

async function checkModel({ job, model }) {
  try {
    const bytes = new Uint8Array(await model.arrayBuffer());
    let encoder;
    try {
      encoder = await Encoder.load(bytes, { backend: 'cpu' });
    } catch (e) {
      throw new InputError(model.name, e.message.replace(/^weights: /, ''));
    }
    const config = encoder.config;
    encoder.free();
    post({ type: 'model', job, model: { name: model.name, isDefault: false, config } });
  } catch (e) {
    post({ type: 'model-error', job, file: model.name, message: e.message });
  }
}

/**
 * Prefix names and the last result's table: `save` makes the labels file of `names`, `load`
 * reads one (refused, by name, when made for another model's table).
 */
async function namesRequest({ job, op, names, file }) {
  let table;
  try {
    if (!lastTable) throw new Error('names belong to an ID table: assign IDs first');
    table = await IdTable.load(lastTable);
    if (op === 'save') {
      post({ type: 'names-file', job, text: table.labelsFile(names) });
    } else {
      let read;
      try {
        read = table.readLabels(await file.text());
      } catch (e) {
        throw new InputError(file.name, e.message);
      }
      post({ type: 'names', job, names: [...read], file: file.name });
    }
  } catch (e) {
    post({ type: 'names-error', job, message: `${e.message ?? e}` });
  } finally {
    table?.free();
  }
}

/** "Items like this one": the `k` items nearest to item `row` of the last result. */
function neighboursOf({ job, row, k = 10 }) {
  try {
    post({ type: 'neighbours', job, row, neighbours: vectorStore.nearest(row, k) });
  } catch (e) {
    post({ type: 'neighbours', job, row, unavailable: `${e.message ?? e}` });
  }
}

self.onmessage = ({ data }) => {
  if (data.type === 'run') run(data);
  else if (data.type === 'probe') probeItem(data);
  else if (data.type === 'add-item') addItem(data);
  else if (data.type === 'check-model') checkModel(data);
  else if (data.type === 'names') namesRequest(data);
  else if (data.type === 'neighbours') neighboursOf(data);
  else if (data.type === 'cancel') {
    running?.abort();
    mapRun?.abort();
  }
};

// Start-up: the wasm, the default model's sizes and whether WebGPU is offered.
(async () => {
  try {
    await initWasm();
    const adapter = await webgpuAdapterKind();
    const entry = await getEncoder(null, 'cpu', 0);
    post({ type: 'ready', webgpu: adapter !== 'none', adapter, model: modelInfo(entry) });
  } catch (e) {
    post({ type: 'fatal', message: `the demo could not start: ${e.message ?? e}` });
  }
})();
