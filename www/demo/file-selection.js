// The page's file inputs: embeddings, titles for an .npy, a model and an existing ID table. Files
// are refused by name (and when empty) as soon as they are chosen; there is no size limit, as the
// worker streams the embeddings in batches and checks their contents. A model is test-loaded in
// the worker at once, so that a bad one is refused before any run.

import { errorShown, hideError, showError } from './alerts.js';
import { emptyProblem, kindOf } from './inputs.js';

const $ = (id) => document.getElementById(id);
const ui = {
  embeddings: $('file-embeddings'),
  titles: $('file-titles'),
  model: $('file-model'),
  table: $('file-table'),
  modelInfo: $('model-info'),
  modelReset: $('model-reset'),
  tableInfo: $('table-info'),
  tableReset: $('table-reset'),
  drop: $('drop'),
  status: $('status'),
};

let hooks = { checkModel: () => 0, onChange: () => {} };
let defaultModel = null; // { name, isDefault, config } of the shipped model
let userModel = null; // the chosen model File, while it is checked and once it passed
let userModelInfo = null; // its { name, isDefault, config } once the worker accepted it
let modelCheckJob = null;

function showModel() {
  const info = userModelInfo ?? defaultModel;
  if (!info) return;
  const c = info.config;
  ui.modelInfo.textContent = `${info.isDefault ? 'default' : info.name} (${c.input_dim}-d input, ${c.levels} levels × ${c.codebook_size} codes)`
    + (info.isDefault ? '; for titles, the default trained on all-MiniLM-L6-v2 vectors (384-d input)' : '');
  ui.modelReset.hidden = !userModelInfo;
}

function showTable() {
  const file = ui.table.files[0];
  ui.tableInfo.textContent = file
    ? `${file.name}: its IDs are kept and new items are added to it`
    : 'none: every item gets a new ID';
  ui.tableReset.hidden = !file;
}

function onEmbeddingsChosen() {
  hideError();
  const file = ui.embeddings.files[0];
  if (file) {
    const problem = emptyProblem(file) ?? (kindOf(file.name) && kindOf(file.name) !== 'safetensors'
      ? null : `${file.name}: unknown file type; embeddings must be .npy, .jsonl or .csv`);
    if (problem) {
      showError(problem);
      ui.embeddings.value = '';
    }
  }
  hooks.onChange();
}

function onTitlesChosen() {
  hideError();
  const file = ui.titles.files[0];
  const problem = file && emptyProblem(file);
  if (problem) {
    showError(problem);
    ui.titles.value = '';
  }
}

function onTableChosen() {
  hideError();
  const file = ui.table.files[0];
  if (file) {
    const problem = emptyProblem(file) ?? (kindOf(file.name) === 'jsonl'
      ? null : `${file.name}: unknown file type; an ID table is a .jsonl file (as this page or rqvae-train assign writes it)`);
    if (problem) {
      showError(problem);
      ui.table.value = '';
    }
  }
  showTable();
}

function onModelChosen() {
  hideError();
  const file = ui.model.files[0];
  if (!file) {
    userModel = null;
    userModelInfo = null;
    showModel();
    return;
  }
  const problem = emptyProblem(file);
  if (problem) {
    showError(`${problem} — the default model stays in use.`);
    ui.model.value = '';
    return;
  }
  userModel = file;
  userModelInfo = null;
  ui.modelInfo.textContent = `checking ${file.name}…`;
  modelCheckJob = hooks.checkModel(file);
}

function setInputFile(input, file) {
  const dt = new DataTransfer();
  dt.items.add(file);
  input.files = dt.files;
}

/**
 * Sorts dropped files into the inputs by type. A .jsonl is an ID table when its first line holds
 * the table header ("table"), embeddings when it has "embedding", else titles.
 */
async function onDrop(files) {
  hideError();
  for (const file of files) {
    const kind = kindOf(file.name);
    if (kind === 'safetensors') {
      setInputFile(ui.model, file);
      onModelChosen();
    } else if (kind === 'npy' || kind === 'csv') {
      setInputFile(ui.embeddings, file);
      onEmbeddingsChosen();
    } else if (kind === 'jsonl') {
      const first = (await file.slice(0, 1 << 16).text()).split('\n')[0] ?? '';
      if (/"table"\s*:\s*\{/.test(first)) {
        setInputFile(ui.table, file);
        onTableChosen();
      } else if (/"embedding"\s*:/.test(first) || file.size >= 1e9) {
        setInputFile(ui.embeddings, file);
        onEmbeddingsChosen();
      } else {
        setInputFile(ui.titles, file);
        onTitlesChosen();
      }
    } else {
      showError(`${file.name}: unknown file type; use .npy, .jsonl or .csv for embeddings, .jsonl for titles or an ID table, .safetensors for a model`);
      return;
    }
  }
  if (errorShown()) return;
  ui.status.textContent = ui.embeddings.files.length
    ? `Ready: ${ui.embeddings.files[0].name}. Press “Assign semantic IDs”.`
    : '';
}

/** The model for a run: the user's File once checked, else null (the default). */
function modelForRun() {
  if (userModel && !userModelInfo) {
    showError(`${userModel.name}: still being checked; try again in a moment.`);
    return undefined;
  }
  return userModelInfo ? userModel : null;
}

function firstEmptyProblem(files) {
  for (const f of files) {
    const problem = f && emptyProblem(f);
    if (problem) return problem;
  }
  return null;
}

/** What "Assign semantic IDs" runs: `{ source, model }`, or null after showing why not. */
export function filesRun() {
  const embeddings = ui.embeddings.files[0];
  if (!embeddings) {
    showError('Choose an embeddings file first (.npy, .jsonl or .csv).');
    return null;
  }
  const model = modelForRun();
  if (model === undefined) return null;
  const titles = ui.titles.files[0] ?? null;
  const table = ui.table.files[0] ?? null;
  const problem = firstEmptyProblem([embeddings, titles, table]);
  if (problem) {
    showError(problem);
    return null;
  }
  return { source: { kind: 'files', embeddings, titles, table }, model };
}

/** What the sample button runs: the shipped sample, added to the chosen ID table if any. */
export function sampleRun() {
  const model = modelForRun();
  if (model === undefined) return null;
  const table = ui.table.files[0] ?? null;
  const problem = firstEmptyProblem([table]);
  if (problem) {
    showError(problem);
    return null;
  }
  return { source: { kind: 'sample', table }, model };
}

export function hasEmbeddings() {
  return ui.embeddings.files.length > 0;
}

export function setDefaultModel(info) {
  defaultModel = info;
  showModel();
}

export function modelUnavailable() {
  ui.modelInfo.textContent = 'unavailable';
}

/** The worker accepted the model of check `job`. */
export function modelChecked(job, info) {
  if (job !== modelCheckJob) return;
  userModelInfo = info;
  showModel();
}

/** The worker refused the model of check `job`: the default model stays in use. */
export function modelRefused(job, message) {
  if (job !== modelCheckJob) return;
  userModel = null;
  userModelInfo = null;
  ui.model.value = '';
  showModel();
  showError(`${message} — the default model stays in use.`);
}

/**
 * Wires the inputs. `checkModel(file)` asks the worker to test-load a model and returns the
 * check's job number; `onChange()` is called when the embeddings input changes.
 */
export function initFileSelection({ checkModel, onChange }) {
  hooks = { checkModel, onChange };
  ui.embeddings.addEventListener('change', onEmbeddingsChosen);
  ui.titles.addEventListener('change', onTitlesChosen);
  ui.model.addEventListener('change', onModelChosen);
  ui.table.addEventListener('change', onTableChosen);
  ui.modelReset.addEventListener('click', () => {
    ui.model.value = '';
    onModelChosen();
  });
  ui.tableReset.addEventListener('click', () => {
    ui.table.value = '';
    onTableChosen();
  });
  for (const type of ['dragover', 'drop']) {
    // Files dropped anywhere are handled here instead of the browser opening them.
    window.addEventListener(type, (event) => {
      if (!event.dataTransfer?.types?.includes('Files')) return;
      event.preventDefault();
      if (type === 'drop') {
        ui.drop.classList.remove('over');
        onDrop([...event.dataTransfer.files]);
      }
    });
  }
  ui.drop.addEventListener('dragenter', () => ui.drop.classList.add('over'));
  ui.drop.addEventListener('dragleave', (event) => {
    if (!ui.drop.contains(event.relatedTarget)) ui.drop.classList.remove('over');
  });
  showTable();
}
