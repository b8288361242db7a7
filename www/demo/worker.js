// The demo's module worker: loads the model, streams the embeddings file through the package's
// encodeStream (its readers check every row, batch by batch), gives every item a unique ID in an
// ID table (id-table-job.js, new or loaded) batch by batch too, and posts progress. Only the IDs,
// the item ids and titles are kept, never all the embeddings, so a file of any size fits (a
// multi-gigabyte .npy included). The page's main thread only renders. Every request this worker
// makes is for the site's own files (wasm, default model, sample); user files are read from File
// objects and never sent anywhere.

import { TableJob, checkTableModel, readTable } from './id-table-job.js';
import {
  Encoder, codeUsage, encodeStream, initWasm, readItems, webgpuAdapterKind, webgpuAvailable,
} from './js/index.js';
import { InputError, formatBytes, kindOf } from './inputs.js';
import { collisionGroups } from './stats.js';
import { layoutTree, transferables } from './tree.js';

const SAMPLE = {
  embeddings: new URL('./sample/games-3000.f16.npy', import.meta.url),
  titles: new URL('./sample/games-3000.jsonl', import.meta.url),
  name: 'games-3000.f16.npy',
  titlesName: 'games-3000.jsonl',
};
const DEFAULT_MODEL = new URL('./models/default.safetensors', import.meta.url);
/** Rows read, encoded and added to the ID table at a time: about 12 MB of 768-d float32. */
const BATCH_ROWS = 4096;

let cached = null; // { key, encoder, name }
let defaultBytes = null; // Promise of the default model's bytes, fetched once
let running = null; // AbortController of the job in progress

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

/** The encoder for `model` (a File, or null for the default) on `backend`, cached between runs. */
async function getEncoder(model, backend, job) {
  const key = model ? `${model.name}|${model.size}|${model.lastModified}|${backend}` : `default|${backend}`;
  if (cached?.key === key) return cached;
  const name = model ? model.name : 'default.safetensors';
  post({ type: 'progress', job, phase: 'model', label: `Loading the model ${name}`, done: 0, total: 1 });
  let bytes;
  if (model) {
    try {
      bytes = new Uint8Array(await model.arrayBuffer());
    } catch (e) {
      throw new InputError(model.name, `could not be read (${e.message})`);
    }
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
  cached?.encoder.free();
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

/** A Uint16Array that grows as batches of IDs come (or is sized at once from an .npy header). */
class IdBuffer {
  constructor(capacity = 1 << 16) {
    this.data = new Uint16Array(capacity);
    this.length = 0;
  }

  reserve(size) {
    if (size <= this.data.length) return;
    const grown = new Uint16Array(Math.max(size, 2 * this.data.length));
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

const rowNumbers = (start, count) => Array.from({ length: count }, (_, i) => start + i);

async function run({ job, source, model, backend }) {
  const controller = new AbortController();
  running = controller;
  const { signal } = controller;
  let tableJob = null;
  try {
    const t0 = performance.now();
    const entry = await getEncoder(model, backend, job);
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
    const input = await inputsOf(source);
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
    const ids = new IdBuffer();
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
    const { table, transfer } = tableJob.finish(allIds);
    const usage = await codeUsage(nearest, { levels, codebookSize: config.codebook_size });
    const tree = layoutTree(nearest, rows, levels);
    post({
      type: 'result',
      job,
      result: {
        name: input.name,
        titlesName: input.titlesName,
        rows,
        dim,
        dtype,
        ids: nearest,
        levels,
        codebookSize: config.codebook_size,
        itemIds: allIds,
        titles: allTitles,
        backend: encoder.backend,
        requestedBackend: backend,
        model: modelInfo(entry),
        setupMs: t1 - t0,
        encodeMs: streamMs - tableMs,
        tableMs,
        levelStats: usage.levels.map((l, level) => ({ level, ...l })),
        tuples: { ...collisionGroups(nearest, rows, levels), unique: usage.unique, uniqueFraction: usage.unique / rows },
        tree,
        table,
      },
    }, [nearest.buffer, ...transferables(tree), ...transfer]);
  } catch (e) {
    if (signal.aborted) {
      post({ type: 'cancelled', job });
    } else {
      post({ type: 'error', job, file: e.file ?? null, message: `${e.message ?? e}` });
    }
  } finally {
    tableJob?.free();
    if (running === controller) running = null;
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

self.onmessage = ({ data }) => {
  if (data.type === 'run') run(data);
  else if (data.type === 'check-model') checkModel(data);
  else if (data.type === 'cancel') running?.abort();
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
