// Parsers of the demo's input files. They run in the worker, read files in chunks (streams),
// report progress and yield between chunks, and throw InputError with the file's name and the
// problem. Nothing here touches the network or the DOM.
//
// Formats:
//   .npy    2-D [items, dim], little-endian float32 ('<f4') or float16 ('<f2'), C order.
//   .jsonl  one JSON object per line: {"id": …, "title": …(optional), "embedding": [numbers]}.
//   .csv    id, optional title, then the vector's values. Header handling: the first line is a
//           header when its last field is not a number, or when it is pandas' header (the
//           vector's columns labelled 0, 1, 2, … in order, at least two of them, after the id
//           column and perhaps a title column: `id,title,0,1,…`, `,title,0,1,…`, `id,0,1,…`).
//           The title column is present when a pandas header has two columns before the 0, when
//           another header names the second column "title", or (no header) when the second field
//           of the first row is not a number. Quote fields that contain commas ("a, b"; "" for a
//           quote).
//   titles  (.jsonl for an .npy) one {"id", "title"} object per line; line i names row i.

/** Files of this size or more are refused before reading. */
export const MAX_FILE_BYTES = 1_000_000_000;

export class InputError extends Error {
  constructor(file, message) {
    super(`${file}: ${message}`);
    this.name = 'InputError';
    this.file = file;
    this.problem = message;
  }
}

const fmt = (n) => n.toLocaleString('en-US');

export function formatBytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** Refuses files of MAX_FILE_BYTES or more and empty files, before reading them. */
export function checkSize(name, size) {
  if (size >= MAX_FILE_BYTES) {
    throw new InputError(name, `the file is ${formatBytes(size)}; files of 1 GB or more are refused (split it or use the CLI, rqvae-train encode)`);
  }
  if (size === 0) throw new InputError(name, 'the file is empty (0 bytes)');
}

const yieldNow = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A growable Float32Array. */
class Rows {
  constructor() {
    this.data = new Float32Array(768 * 256);
    this.length = 0;
  }

  push(values, offset, count) {
    if (this.length + count > this.data.length) {
      let size = this.data.length * 2;
      while (size < this.length + count) size *= 2;
      const grown = new Float32Array(size);
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(count === values.length && offset === 0 ? values : values.subarray(offset, offset + count), this.length);
    this.length += count;
  }

  result() {
    return this.data.slice(0, this.length);
  }
}

function checkDim(name, dim, expectedDim) {
  if (expectedDim != null && dim !== expectedDim) {
    throw new InputError(name, `the embeddings are ${fmt(dim)}-dimensional but the model expects ${fmt(expectedDim)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// .npy

const F16_EXP = 0x7c00;

/**
 * Parses .npy bytes. Float16 data stays as bit patterns (Uint16Array), which Encoder.encode takes.
 * @returns {Promise<{rows: number, dim: number, dtype: 'float32'|'float16', data: Float32Array|Uint16Array}>}
 */
export async function parseNpy(name, buffer, { expectedDim, onProgress, signal } = {}) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length === 0) throw new InputError(name, 'the file is empty (0 bytes)');
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    if (bytes.length < 10 && magic.slice(0, bytes.length).every((b, i) => bytes[i] === b)) {
      throw new InputError(name, `truncated: only ${bytes.length} bytes, not even a .npy header`);
    }
    throw new InputError(name, 'not a .npy file (it does not start with "\\x93NUMPY")');
  }
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new InputError(name, `unsupported .npy version ${major}`);
  const view = new DataView(buffer);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new InputError(name, 'truncated inside the .npy header');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.length) {
    throw new InputError(name, `truncated: the header claims ${fmt(headerLen)} bytes but the file has ${fmt(bytes.length)} in all`);
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, dataStart));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText == null) throw new InputError(name, `unreadable .npy header: ${header.trim()}`);
  const sizes = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (sizes.length !== 2) {
    throw new InputError(name, `the array has shape (${shapeText.trim()}); expected 2-D [items, dim]`);
  }
  // Digits only: Number() would also take '-1' (and (-1, -4) has a positive size), '1e3', '0x10'.
  const shape = sizes.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (!shape.every(Number.isSafeInteger)) {
    throw new InputError(name, `the array has shape (${shapeText.trim()}); its sizes must be whole numbers from 0 to 2^53 - 1`);
  }
  if (fortran !== 'False') throw new InputError(name, 'Fortran-order arrays are not supported; save in C order');
  let dtype;
  if (descr === '<f4') dtype = 'float32';
  else if (descr === '<f2') dtype = 'float16';
  else throw new InputError(name, `dtype '${descr}' is not supported; use little-endian float32 ('<f4') or float16 ('<f2')`);
  const [rows, dim] = shape;
  if (rows === 0) throw new InputError(name, 'the array has no rows');
  if (dim === 0) throw new InputError(name, 'the array has 0 columns');
  checkDim(name, dim, expectedDim);
  const itemSize = dtype === 'float32' ? 4 : 2;
  const expected = rows * dim * itemSize;
  const actual = bytes.length - dataStart;
  if (actual < expected) {
    throw new InputError(name, `truncated: the header says ${fmt(rows)} × ${fmt(dim)} ${dtype} (${fmt(expected)} bytes of data) but only ${fmt(actual)} bytes follow it`);
  }
  if (actual > expected) {
    throw new InputError(name, `${fmt(actual - expected)} unexpected bytes after the ${fmt(rows)} × ${fmt(dim)} ${dtype} data`);
  }
  const Typed = dtype === 'float32' ? Float32Array : Uint16Array;
  const data = dataStart % itemSize === 0
    ? new Typed(buffer, dataStart, rows * dim)
    : new Typed(buffer.slice(dataStart, dataStart + expected));

  // Check every value in chunks, so that the page can show progress and cancel.
  const chunkRows = Math.max(1, Math.floor(262_144 / dim));
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    if (signal?.aborted) throw new Error('cancelled');
    const r1 = Math.min(rows, r0 + chunkRows);
    const end = r1 * dim;
    for (let i = r0 * dim; i < end; i++) {
      const bad = dtype === 'float32' ? !Number.isFinite(data[i]) : (data[i] & F16_EXP) === F16_EXP;
      if (bad) {
        const isNaN = dtype === 'float32' ? Number.isNaN(data[i]) : (data[i] & 0x3ff) !== 0;
        throw new InputError(name, `row ${Math.floor(i / dim)}, column ${i % dim} is ${isNaN ? 'NaN' : 'infinite'} (rows and columns count from 0)`);
      }
    }
    onProgress?.(r1, rows);
    if (r1 < rows) await yieldNow();
  }
  return { rows, dim, dtype, data };
}

// ---------------------------------------------------------------------------------------------
// Text files: lines read from a stream with byte progress.

/**
 * Calls `onLine(text, lineNumber, isLast)` for every line of `file` (a Blob), 1-based line numbers.
 * `isLast` is true for a final line without a trailing newline.
 */
async function forEachLine(file, onLine, { onProgress, signal }) {
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let carry = '';
  let lineNo = 0;
  let read = 0;
  let first = true;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel();
      throw new Error('cancelled');
    }
    const { value, done } = await reader.read();
    if (done) break;
    read += value.length;
    let text = carry + decoder.decode(value, { stream: true });
    // Not before the first character: a first chunk can end inside one and decode to ''.
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      lineNo += 1;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      onLine(text.slice(start, end), lineNo, false);
      start = nl + 1;
    }
    carry = text.slice(start);
    onProgress?.(read, file.size);
  }
  carry += decoder.decode();
  if (carry.length > 0) onLine(carry.endsWith('\r') ? carry.slice(0, -1) : carry, lineNo + 1, true);
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}

function jsonLineError(name, line, lineNo, isLast, e) {
  if (/(^|[\s,[:])-?(NaN|Infinity)\s*[,\]}]/.test(line)) {
    return new InputError(name, `line ${lineNo} contains NaN or Infinity, which are not numbers (and not valid JSON)`);
  }
  const hint = isLast ? '; the file may be truncated' : '';
  return new InputError(name, `line ${lineNo} is not valid JSON (${e.message})${hint}`);
}

/** One JSON Lines line as an object with an "id" (string or number), or an InputError naming the line. */
function objectWithId(name, line, lineNo, isLast) {
  let obj;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw jsonLineError(name, line, lineNo, isLast, e);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new InputError(name, `line ${lineNo} is ${describe(obj)}, not a JSON object`);
  }
  if (!('id' in obj) || obj.id === null || (typeof obj.id !== 'string' && typeof obj.id !== 'number')) {
    throw new InputError(name, `line ${lineNo} has no "id" (a string or number)`);
  }
  // JSON.parse reads 1e400 as Infinity, which later messages would print as null.
  if (typeof obj.id === 'number' && !Number.isFinite(obj.id)) {
    throw new InputError(name, `line ${lineNo}: the id is a number too large for a double; write it as a string`);
  }
  return obj;
}

/**
 * Parses embeddings in JSON Lines.
 * @returns {Promise<{rows, dim, dtype: 'float32', data: Float32Array, ids: any[], titles: string[]}>}
 */
export async function parseJsonl(name, file, { expectedDim, onProgress, signal } = {}) {
  const rows = new Rows();
  const ids = [];
  const titles = [];
  let dim = -1;
  let firstLine = 0;
  let scratch;
  await forEachLine(file, (line, lineNo, isLast) => {
    if (line.trim() === '') return;
    const obj = objectWithId(name, line, lineNo, isLast);
    const emb = obj.embedding;
    if (!Array.isArray(emb)) {
      const hint = 'title' in obj && emb === undefined ? ' (a titles file goes in the "Titles" field, next to an .npy)' : '';
      throw new InputError(name, `line ${lineNo} has no "embedding" array${hint}`);
    }
    if (dim < 0) {
      dim = emb.length;
      firstLine = lineNo;
      if (dim === 0) throw new InputError(name, `line ${lineNo}: "embedding" is empty`);
      checkDim(name, dim, expectedDim);
      scratch = new Float32Array(dim);
    } else if (emb.length !== dim) {
      throw new InputError(name, `ragged rows: line ${lineNo} has ${fmt(emb.length)} values but line ${firstLine} has ${fmt(dim)}${isLast ? ' (the file may be truncated)' : ''}`);
    }
    for (let k = 0; k < dim; k++) {
      const v = emb[k];
      if (typeof v !== 'number') {
        throw new InputError(name, `line ${lineNo}: embedding[${k}] is ${describe(v)}, not a number`);
      }
      scratch[k] = v;
      if (!Number.isFinite(scratch[k])) {
        throw new InputError(name, `line ${lineNo}: embedding[${k}] = ${v} overflows float32`);
      }
    }
    rows.push(scratch, 0, dim);
    ids.push(obj.id);
    titles.push(obj.title == null ? '' : String(obj.title));
  }, { onProgress, signal });
  if (dim < 0) throw new InputError(name, 'the file holds no rows (only blank lines)');
  return { rows: ids.length, dim, dtype: 'float32', data: rows.result(), ids, titles };
}

/** Parses a titles file: {"id", "title"} per line, line i naming row i of an .npy. */
export async function parseTitles(name, file, { expectedRows, onProgress, signal } = {}) {
  const ids = [];
  const titles = [];
  await forEachLine(file, (line, lineNo, isLast) => {
    if (line.trim() === '') return;
    const obj = objectWithId(name, line, lineNo, isLast);
    ids.push(obj.id);
    titles.push(obj.title == null ? '' : String(obj.title));
  }, { onProgress, signal });
  if (ids.length === 0) throw new InputError(name, 'the file holds no lines');
  if (expectedRows != null && ids.length !== expectedRows) {
    throw new InputError(name, `it names ${fmt(ids.length)} items but the embeddings have ${fmt(expectedRows)} rows (line i names row i)`);
  }
  return { ids, titles };
}

// ---------------------------------------------------------------------------------------------
// CSV

const NUMBER_WORD = /^[+-]?(nan|inf|infinity)$/i;

function numberLike(s) {
  const t = s.trim();
  return (t !== '' && Number.isFinite(Number(t))) || NUMBER_WORD.test(t);
}

/** Splits CSV text into records (RFC 4180 quoting), streaming; calls onRecord(fields, lineNo, isLast). */
async function forEachCsvRecord(name, file, onRecord, { onProgress, signal }) {
  let fields = [];
  let field = '';
  let quoted = false; // inside a quoted field
  let afterQuote = false; // just closed a quoted field
  let line = 1;
  let recordLine = 1;
  let any = false;
  const endField = () => {
    fields.push(field);
    field = '';
    afterQuote = false;
  };
  const endRecord = (isLast) => {
    endField();
    const blank = fields.length === 1 && fields[0].trim() === '';
    if (!blank) onRecord(fields, recordLine, isLast);
    fields = [];
  };
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8');
  let read = 0;
  let first = true;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel();
      throw new Error('cancelled');
    }
    const { value, done } = await reader.read();
    let text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let i = 0;
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (quoted) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          const piece = text.slice(i);
          for (let k = 0; k < piece.length; k++) if (piece.charCodeAt(k) === 10) line += 1;
          field += piece;
          i = n;
        } else {
          const piece = text.slice(i, q);
          for (let k = 0; k < piece.length; k++) if (piece.charCodeAt(k) === 10) line += 1;
          field += piece;
          quoted = false;
          afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      if (c === 34) {
        // '"': opens a quoted field, or (right after one closed) is an escaped quote.
        if (afterQuote) {
          field += '"';
          quoted = true;
          afterQuote = false;
        } else if (field.trim() === '') {
          field = '';
          quoted = true;
        } else {
          throw new InputError(name, `line ${line}: a quote (") in the middle of an unquoted field; quote the whole field and double inner quotes`);
        }
        i += 1;
        any = true;
        continue;
      }
      if (c === 44) {
        endField();
        i += 1;
        any = true;
        continue;
      }
      if (c === 10) {
        if (field.endsWith('\r')) field = field.slice(0, -1);
        endRecord(false);
        line += 1;
        recordLine = line;
        i += 1;
        continue;
      }
      // A run of ordinary characters.
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 44 || d === 10 || d === 34) break;
        j += 1;
      }
      if (afterQuote) {
        const extra = text.slice(i, j);
        if (extra.trim() !== '' && extra !== '\r') {
          throw new InputError(name, `line ${line}: text after a closing quote; double quotes inside a quoted field ("")`);
        }
      } else {
        field += text.slice(i, j);
      }
      any = true;
      i = j;
    }
    if (done) break;
    read += value.length;
    onProgress?.(read, file.size);
  }
  if (quoted) throw new InputError(name, `line ${recordLine}: a quoted field is never closed; the file may be truncated`);
  if (field !== '' || fields.length > 0 || afterQuote) {
    if (field.endsWith('\r')) field = field.slice(0, -1);
    endRecord(true);
  }
  return any;
}

/**
 * Where the vector's columns start if `fields` is pandas' header (`df.to_csv()` labels a
 * DataFrame's columns 0, 1, 2, …): 1 (`id,0,1,…`) or 2 (`id,title,0,1,…`, `,title,0,1,…`); else
 * -1. Its last field is a number, so the "last field is not a number" rule alone reads it as a
 * row. At least two labels, so that a one-value row `x,0` stays a row.
 */
function pandasVectorStart(fields) {
  for (const start of [1, 2]) {
    const count = fields.length - start;
    if (count < 2) continue;
    let k = 0;
    while (k < count && fields[start + k].trim() === String(k)) k += 1;
    if (k === count) return start;
  }
  return -1;
}

/** Parses embeddings in CSV: id, optional title, vector. */
export async function parseCsv(name, file, { expectedDim, onProgress, signal } = {}) {
  const rows = new Rows();
  const ids = [];
  const titles = [];
  let header = null;
  let hasTitle = null;
  let width = -1;
  let dim = -1;
  let firstLine = 0;
  let scratch;
  await forEachCsvRecord(name, file, (fields, lineNo, isLast) => {
    const vectorStart = header === null && width < 0 ? pandasVectorStart(fields) : -1;
    if (vectorStart > 0 || (header === null && width < 0 && !numberLike(fields[fields.length - 1]))) {
      header = fields;
      if (fields.length < 2) throw new InputError(name, `line ${lineNo}: the header has only one column; expected id, optional title, then the vector`);
      hasTitle = vectorStart > 0 ? vectorStart === 2 : fields[1].trim().toLowerCase() === 'title';
      return;
    }
    if (width < 0) {
      hasTitle ??= fields.length >= 2 && !numberLike(fields[1]);
      width = fields.length;
      firstLine = lineNo;
      dim = width - 1 - (hasTitle ? 1 : 0);
      if (header && header.length !== width) {
        throw new InputError(name, `ragged rows: line ${lineNo} has ${fmt(width)} fields but the header has ${fmt(header.length)}`);
      }
      if (dim < 1) throw new InputError(name, `line ${lineNo} has no vector values (id${hasTitle ? ', title' : ''} only)`);
      checkDim(name, dim, expectedDim);
      scratch = new Float32Array(dim);
    } else if (fields.length !== width) {
      throw new InputError(name, `ragged rows: line ${lineNo} has ${fmt(fields.length)} fields but line ${firstLine} has ${fmt(width)}${isLast ? ' (the file may be truncated)' : ''}`);
    }
    const id = fields[0].trim();
    if (id === '') throw new InputError(name, `line ${lineNo}: the id (column 1) is empty`);
    const offset = hasTitle ? 2 : 1;
    for (let k = 0; k < dim; k++) {
      const s = fields[offset + k];
      const t = s.trim();
      const v = t === '' ? NaN : Number(t);
      if (!Number.isFinite(v)) {
        let what;
        if (t === '') what = 'is empty';
        else if (/^[+-]?nan$/i.test(t)) what = 'is NaN';
        else if (/^[+-]?inf(inity)?$/i.test(t) || Number.isNaN(v) === false) what = 'is infinite';
        else what = `is ${describe(s)}, not a number`;
        throw new InputError(name, `line ${lineNo}, column ${offset + k + 1} ${what}`);
      }
      scratch[k] = v;
      if (!Number.isFinite(scratch[k])) throw new InputError(name, `line ${lineNo}, column ${offset + k + 1}: ${t} overflows float32`);
    }
    rows.push(scratch, 0, dim);
    ids.push(id);
    titles.push(hasTitle ? fields[1] : '');
  }, { onProgress, signal });
  if (ids.length === 0) throw new InputError(name, header ? 'the file has a header but no rows' : 'the file holds no rows');
  return { rows: ids.length, dim, dtype: 'float32', data: rows.result(), ids, titles };
}

/** The kind of an input file from its name: 'npy', 'jsonl', 'csv', 'safetensors' or null. */
export function kindOf(name) {
  const m = /\.([a-z0-9]+)$/i.exec(name);
  const ext = m?.[1].toLowerCase();
  if (ext === 'npy') return 'npy';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'csv') return 'csv';
  if (ext === 'safetensors') return 'safetensors';
  return null;
}
