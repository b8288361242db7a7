// What the demo says about its input files. Reading and checking them is the package's
// (js/readers/, the same readers any app gets through encodeStream); here are only the demo's
// error type, which names the file the page should point at, and how it tells files apart.

export class InputError extends Error {
  constructor(file, message) {
    super(message.startsWith(`${file}: `) ? message : `${file}: ${message}`);
    this.name = 'InputError';
    this.file = file;
  }
}

export function formatBytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** The kind of an input file from its name: 'npy', 'jsonl', 'csv', 'safetensors' or null. */
export function kindOf(name) {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1].toLowerCase();
  if (ext === 'npy') return 'npy';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'csv') return 'csv';
  if (ext === 'safetensors') return 'safetensors';
  return null;
}

/** Refuses an empty file as soon as it is chosen (nothing else is refused before reading). */
export function emptyProblem(file) {
  return file.size === 0 ? `${file.name}: the file is empty (0 bytes)` : null;
}
