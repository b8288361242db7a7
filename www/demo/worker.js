// The demo's module worker: reads and checks the input files, loads the model, assigns semantic
// IDs with the rqvae package, in chunks, posting progress, and gives every item a unique ID in an
// ID table (id-table-job.js), new or loaded. The page's main thread only renders. Every request
// this worker makes is for the site's own files (wasm, default model, sample); user files are
// read from File objects and never sent anywhere.

import { assignIds, checkTableModel, readTable } from './id-table-job.js';
import { Encoder, initWasm, webgpuAdapterKind, webgpuAvailable } from './js/index.js';
import {
  InputError, checkSize, kindOf, parseCsv, parseJsonl, parseNpy, parseTitles,
} from './parse.js';
import { levelStats, tupleStats } from './stats.js';
import { layoutTree, transferables } from './tree.js';

const SAMPLE = {
  embeddings: new URL('./sample/games-3000.f16.npy', import.meta.url),
  titles: new URL('./sample/games-3000.jsonl', import.meta.url),
  name: 'games-3000.f16.npy',
  titlesName: 'games-3000.jsonl',
};
const DEFAULT_MODEL = new URL('./models/default.safetensors', import.meta.url);

let cached = null; // { key, encoder, name }
let defaultBytes = null; // Promise of the default model's bytes, fetched once
let running = null; // AbortController of the job in progress

function post(message, transfer) {
  self.postMessage(message, transfer ?? []);
}

/** Posts progress at most every 60 ms (and always at the end of a phase). */
function progressReporter(job, phase, label) {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - last < 60) return;
    last = now;
    post({ type: 'progress', job, phase, label, done, total });
  };
}

async function fetchBytes(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new InputError(what, `could not load it (${e.message})`);
  }
  if (!response.ok) throw new InputError(what, `could not load it (HTTP ${response.status})`);
  return response;
}

/** Reads a Blob into an ArrayBuffer in chunks, reporting bytes. */
async function readAll(blob, onProgress, signal) {
  const out = new Uint8Array(blob.size);
  const reader = blob.stream().getReader();
  let offset = 0;
  for (;;) {
    if (signal.aborted) {
      await reader.cancel();
      throw new Error('cancelled');
    }
    const { value, done } = await reader.read();
    if (done) break;
    if (offset + value.length > out.length) throw new Error('the file grew while it was being read');
    out.set(value, offset);
    offset += value.length;
    onProgress(offset, blob.size);
  }
  return out.buffer.slice(0, offset);
}

/** The encoder for `model` (a File, or null for the default) on `backend`, cached between runs. */
async function getEncoder(model, backend, job) {
  const key = model ? `${model.name}|${model.size}|${model.lastModified}|${backend}` : `default|${backend}`;
  if (cached?.key === key) return cached;
  const name = model ? model.name : 'default.safetensors';
  post({ type: 'progress', job, phase: 'model', label: `Loading the model ${name}`, done: 0, total: 1 });
  let bytes;
  if (model) {
    checkSize(model.name, model.size);
    bytes = new Uint8Array(await reading(model.name, () => model.arrayBuffer()));
  } else {
    defaultBytes ??= fetchBytes(DEFAULT_MODEL, 'default.safetensors')
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

/** Runs `read`, naming `name` in any error that is not already an InputError (e.g. unreadable file). */
async function reading(name, read) {
  try {
    return await read();
  } catch (e) {
    if (e instanceof InputError || e.message === 'cancelled') throw e;
    throw new InputError(name, `could not be read (${e.message})`);
  }
}

async function parseEmbeddings(job, source, expectedDim, signal) {
  if (source.kind === 'sample') {
    const res = await fetchBytes(SAMPLE.embeddings, SAMPLE.name);
    const buffer = await res.arrayBuffer();
    const parsed = await parseNpy(SAMPLE.name, buffer, {
      expectedDim, signal, onProgress: progressReporter(job, 'check', `Checking ${SAMPLE.name}`),
    });
    const titlesBlob = await (await fetchBytes(SAMPLE.titles, SAMPLE.titlesName)).blob();
    const meta = await parseTitles(SAMPLE.titlesName, titlesBlob, {
      expectedRows: parsed.rows, signal, onProgress: progressReporter(job, 'read', `Reading ${SAMPLE.titlesName}`),
    });
    return { ...parsed, ...meta, name: SAMPLE.name, titlesName: SAMPLE.titlesName, idsAreRowNumbers: false };
  }
  const file = source.embeddings;
  const kind = kindOf(file.name);
  checkSize(file.name, file.size);
  if (source.titles) checkSize(source.titles.name, source.titles.size);
  let parsed;
  if (kind === 'npy') {
    const buffer = await reading(file.name, () => readAll(file, progressReporter(job, 'read', `Reading ${file.name}`), signal));
    parsed = await parseNpy(file.name, buffer, {
      expectedDim, signal, onProgress: progressReporter(job, 'check', `Checking ${file.name}`),
    });
    parsed.ids = Array.from({ length: parsed.rows }, (_, i) => i);
    parsed.titles = new Array(parsed.rows).fill('');
    parsed.idsAreRowNumbers = true;
  } else if (kind === 'jsonl') {
    parsed = await reading(file.name, () => parseJsonl(file.name, file, {
      expectedDim, signal, onProgress: progressReporter(job, 'read', `Parsing ${file.name}`),
    }));
  } else if (kind === 'csv') {
    parsed = await reading(file.name, () => parseCsv(file.name, file, {
      expectedDim, signal, onProgress: progressReporter(job, 'read', `Parsing ${file.name}`),
    }));
  } else {
    throw new InputError(file.name, 'unknown file type; embeddings must be .npy, .jsonl or .csv');
  }
  let titlesName = null;
  if (source.titles) {
    if (kind !== 'npy') {
      throw new InputError(source.titles.name, `a titles file names the rows of an .npy; ${file.name} carries its own ids and titles`);
    }
    const meta = await reading(source.titles.name, () => parseTitles(source.titles.name, source.titles, {
      expectedRows: parsed.rows, signal, onProgress: progressReporter(job, 'read', `Reading ${source.titles.name}`),
    }));
    parsed.ids = meta.ids;
    parsed.titles = meta.titles;
    parsed.idsAreRowNumbers = false;
    titlesName = source.titles.name;
  }
  return { ...parsed, name: file.name, titlesName };
}

async function run({ job, source, model, backend }) {
  const controller = new AbortController();
  running = controller;
  const { signal } = controller;
  try {
    const t0 = performance.now();
    // Refuse oversized files before anything is read.
    if (source.kind === 'files') {
      checkSize(source.embeddings.name, source.embeddings.size);
      if (source.titles) checkSize(source.titles.name, source.titles.size);
    }
    if (source.table) checkSize(source.table.name, source.table.size);
    if (model) checkSize(model.name, model.size);
    const entry = await getEncoder(model, backend, job);
    const { encoder } = entry;
    const config = encoder.config;
    // The table first: a table of another model is refused before the embeddings are read.
    let existing = null;
    if (source.table) {
      post({ type: 'progress', job, phase: 'table', label: `Reading the ID table ${source.table.name}`, done: 0, total: 1 });
      existing = await readTable(source.table);
      checkTableModel(existing, encoder, entry.isDefault ? 'the default model' : entry.name);
    }
    const parsed = await parseEmbeddings(job, source, config.input_dim, signal);
    const t1 = performance.now();
    const encodeLabel = `Assigning IDs to ${parsed.rows.toLocaleString('en-US')} items`;
    post({ type: 'progress', job, phase: 'encode', label: encodeLabel, done: 0, total: parsed.rows });
    let ids;
    const report = progressReporter(job, 'encode', encodeLabel);
    const t2 = performance.now();
    try {
      ids = await encoder.encode(parsed.data, {
        dim: parsed.dim,
        batchSize: backend === 'webgpu' ? 256 : 512,
        signal,
        onProgress: ({ done, total }) => report(done, total),
      });
    } catch (e) {
      // Cancel rejects with the signal's reason (an AbortError); bad rows with their code.
      if (signal.aborted || e.name === 'AbortError') throw e;
      throw new InputError(parsed.name, e.message);
    }
    const encodeMs = performance.now() - t2;
    if (signal.aborted) throw new Error('cancelled');
    const levels = config.levels;
    const n = parsed.rows;
    post({
      type: 'progress', job, phase: 'table', done: 0, total: 1,
      label: existing ? `Adding ${n.toLocaleString('en-US')} items to ${existing.name}` : `Giving ${n.toLocaleString('en-US')} items unique IDs`,
    });
    const { table, transfer } = await assignIds(encoder, parsed, existing, {
      idsName: parsed.titlesName ?? parsed.name,
      idsAreRowNumbers: parsed.idsAreRowNumbers,
    });
    const tree = layoutTree(ids, n, levels);
    post({
      type: 'result',
      job,
      result: {
        name: parsed.name,
        titlesName: parsed.titlesName,
        rows: n,
        dim: parsed.dim,
        dtype: parsed.dtype,
        ids,
        levels,
        codebookSize: config.codebook_size,
        itemIds: parsed.ids,
        titles: parsed.titles,
        backend: encoder.backend,
        requestedBackend: backend,
        model: modelInfo(entry),
        readMs: t1 - t0,
        encodeMs,
        levelStats: levelStats(ids, n, levels, config.codebook_size),
        tuples: tupleStats(ids, n, levels),
        tree,
        table,
      },
    }, [ids.buffer, ...transferables(tree), ...transfer]);
  } catch (e) {
    if (signal.aborted) {
      post({ type: 'cancelled', job });
    } else {
      post({
        type: 'error',
        job,
        file: e.file ?? null,
        message: e instanceof InputError ? e.message : `${e.message ?? e}`,
      });
    }
  } finally {
    if (running === controller) running = null;
  }
}

async function checkModel({ job, model }) {
  try {
    checkSize(model.name, model.size);
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
