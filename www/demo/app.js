// The demo page's entry: it runs jobs in ./worker.js (which parses, encodes and builds the ID
// table) and hands each result to the views. Files: file-selection.js (the inputs),
// summary-view.js and id-table-view.js (the summary and the ID table), explore.js (the chart,
// prefix details and search), export.js (downloads). This thread only renders.

import { hideError, showError } from './alerts.js';
import {
  initNames, onNames, onNeighbours, pickItem, renderChart, selectPrefix, showExplore,
} from './explore.js';
import { setExports } from './export.js';
import {
  filesRun, hasEmbeddings, initFileSelection, modelChecked, modelRefused, modelUnavailable, sampleRun, setDefaultModel,
} from './file-selection.js';
import { fmt } from './format.js';
import { renderTableItems, tableStatus } from './id-table-view.js';
import { onMapMessage } from './map-view.js';
import { renderSummary } from './summary-view.js';
import { initNewItem, onProbe, showNewItem } from './new-item.js';

const $ = (id) => document.getElementById(id);
const ui = {
  backend: $('backend'),
  webgpuNote: $('webgpu-note'),
  run: $('run'),
  sample: $('sample'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  progressBar: $('progress-bar'),
  cancel: $('cancel'),
  status: $('status'),
  summary: $('summary-body'),
};

let worker;
let jobCounter = 0;
let runningJob = null;
let result = null; // the last successful run (see worker.js)

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => onWorkerMessage(data);
  worker.onerror = (e) => {
    e.preventDefault?.();
    showError(`The worker failed: ${e.message || 'unknown error'}`);
    finishJob();
  };
}

function onReady(msg) {
  ui.webgpuNote.textContent = !msg.webgpu
    ? 'This browser offers no WebGPU: IDs are computed on the CPU (WebAssembly).'
    : msg.adapter === 'software'
      ? 'WebGPU here runs on a software adapter, slower than the CPU: Auto uses the CPU.'
      : 'WebGPU runs on this GPU: Auto uses it from 64 items.';
  ui.webgpuNote.dataset.webgpu = String(msg.webgpu);
  if (!msg.webgpu) {
    const option = ui.backend.querySelector('option[value="webgpu"]');
    option.disabled = true;
    option.textContent = 'WebGPU (not available in this browser)';
    if (ui.backend.value === 'webgpu') ui.backend.value = 'auto';
  }
  setDefaultModel(msg.model);
  document.body.dataset.ready = 'true';
}

function onWorkerMessage(msg) {
  switch (msg.type) {
    case 'ready':
      onReady(msg);
      break;
    case 'fatal':
      showError(msg.message);
      modelUnavailable();
      break;
    case 'model':
      modelChecked(msg.job, msg.model);
      break;
    case 'model-error':
      modelRefused(msg.job, msg.message);
      break;
    case 'progress':
      if (msg.job !== runningJob) return;
      ui.progressLabel.textContent = msg.detail ? `${msg.label}: ${msg.detail}` : `${msg.label}…`;
      ui.progressBar.max = Math.max(1, msg.total);
      ui.progressBar.value = msg.done;
      break;
    case 'result':
      // A run's result, or the result again after the "new item" box added an item.
      if (msg.job !== runningJob && !msg.result.added) return;
      if (msg.job === runningJob) finishJob();
      showResult(msg.result);
      break;
    case 'probe':
    case 'probe-error':
      onProbe(msg);
      break;
    case 'names':
    case 'names-file':
      onNames(msg);
      break;
    case 'names-error':
      showError(msg.message);
      break;
    case 'map':
      onMapMessage(msg);
      break;
    case 'neighbours':
      onNeighbours(msg);
      break;
    case 'error':
      if (msg.job !== runningJob) return;
      finishJob();
      showError(msg.message);
      ui.status.textContent = result ? 'The previous results are still shown.' : '';
      break;
    case 'cancelled':
      if (msg.job !== runningJob) return;
      finishJob();
      ui.status.textContent = `Cancelled.${result ? ' The previous results are still shown.' : ''}`;
      break;
    default:
      break;
  }
}

function updateRunButton() {
  ui.run.disabled = runningJob != null || !hasEmbeddings();
}

function startJob(request) {
  if (!request) return;
  hideError();
  const job = ++jobCounter;
  runningJob = job;
  ui.progress.hidden = false;
  ui.progressLabel.textContent = 'Starting…';
  ui.progressBar.removeAttribute('value');
  ui.status.textContent = '';
  document.body.dataset.busy = 'true';
  ui.run.disabled = true;
  ui.sample.disabled = true;
  worker.postMessage({ type: 'run', job, source: request.source, model: request.model, backend: ui.backend.value });
}

function finishJob() {
  runningJob = null;
  ui.progress.hidden = true;
  delete document.body.dataset.busy;
  ui.sample.disabled = false;
  updateRunButton();
}

function cancelJob() {
  if (runningJob == null) return;
  const job = runningJob;
  worker.postMessage({ type: 'cancel', job });
  ui.progressLabel.textContent = 'Cancelling…';
  // A batch in flight finishes first; if the worker does not answer soon, replace it.
  setTimeout(() => {
    if (runningJob === job) {
      worker.terminate();
      startWorker();
      finishJob();
      ui.status.textContent = `Cancelled.${result ? ' The previous results are still shown.' : ''}`;
    }
  }, 3000);
}

function showResult(res) {
  result = res;
  renderSummary(ui.summary, res, { onGroup: selectPrefix });
  renderTableItems(res, {
    onPick: (row) => {
      pickItem(row);
      $('explore').scrollIntoView({ block: 'nearest' });
    },
  });
  setExports(res);
  showExplore(res);
  showNewItem(res);
  const secs = (res.encodeMs / 1000).toFixed(2);
  const embedded = res.text ? `${fmt(res.rows)} titles embedded in ${(res.text.embedMs / 1000).toFixed(2)} s and ` : '';
  ui.status.textContent = res.added
    ? `Added ${JSON.stringify(res.added.id)}. ${tableStatus(res)}`
    : `Done: ${embedded}${fmt(res.rows)} items encoded in ${secs} s on ${res.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}. ${tableStatus(res)}`;
}

initFileSelection({
  checkModel: (file) => {
    const job = ++jobCounter;
    worker.postMessage({ type: 'check-model', job, model: file });
    return job;
  },
  onChange: updateRunButton,
});
initNames((message) => worker.postMessage({ ...message, job: ++jobCounter }));
initNewItem((message) => {
  const job = ++jobCounter;
  worker.postMessage({ ...message, job });
  return job;
});
ui.run.addEventListener('click', () => startJob(filesRun()));
ui.sample.addEventListener('click', () => startJob(sampleRun()));
ui.cancel.addEventListener('click', cancelJob);

let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderChart, 150);
});

startWorker();
