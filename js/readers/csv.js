// CSV embeddings, streamed: id, optional title, then the vector's values (RFC 4180 quoting).
//
// The header rule: the first line is a header when its last field is not a number, or when it is
// pandas' header (`df.to_csv()` labels a DataFrame's columns 0, 1, 2, … in order; at least two of
// them, after the id column and perhaps a title column: `id,title,0,1,…`, `,title,0,1,…`,
// `id,0,1,…`). The title column is there when a pandas header has two columns before the 0, when
// another header names the second column "title", or (no header) when the second field of the
// first row is not a number.

import { RowBatcher, checkDim, fmt, inputError } from './batches.js';
import { describe, splitText } from './text.js';

const NUMBER_WORD = /^[+-]?(nan|inf|infinity)$/i;

function numberLike(s) {
  const t = s.trim();
  return (t !== '' && Number.isFinite(Number(t))) || NUMBER_WORD.test(t);
}

/**
 * Splits CSV text fed in pieces into records, with the line each starts on. Blank lines are
 * skipped; a record's fields keep their spaces (quoted ones their line breaks).
 */
export class CsvSplitter {
  #fields = [];
  #field = '';
  #quoted = false; // inside a quoted field
  #afterQuote = false; // just closed a quoted field
  #line = 1;
  #recordLine = 1;

  constructor(name) {
    this.name = name;
  }

  #endField() {
    this.#fields.push(this.#field);
    this.#field = '';
    this.#afterQuote = false;
  }

  #endRecord(isLast, onRecord) {
    this.#endField();
    const fields = this.#fields;
    this.#fields = [];
    const blank = fields.length === 1 && fields[0].trim() === '';
    if (!blank) onRecord(fields, this.#recordLine, isLast);
  }

  #countLines(piece) {
    for (let k = 0; k < piece.length; k++) if (piece.charCodeAt(k) === 10) this.#line += 1;
  }

  /** @param {(fields: string[], lineNo: number, isLast: boolean) => void} onRecord */
  push(text, onRecord) {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.#quoted) {
        const q = text.indexOf('"', i);
        const piece = q < 0 ? text.slice(i) : text.slice(i, q);
        this.#countLines(piece);
        this.#field += piece;
        if (q < 0) {
          i = n;
        } else {
          this.#quoted = false;
          this.#afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 34) {
        // '"': opens a quoted field, or (right after one closed) is an escaped quote.
        if (this.#afterQuote) {
          this.#field += '"';
          this.#quoted = true;
          this.#afterQuote = false;
        } else if (this.#field.trim() === '') {
          this.#field = '';
          this.#quoted = true;
        } else {
          throw inputError(this.name, `line ${this.#line}: a quote (") in the middle of an unquoted field; quote the whole field and double inner quotes`);
        }
        i += 1;
        continue;
      }
      if (c === 44) {
        this.#endField();
        i += 1;
        continue;
      }
      if (c === 10) {
        if (this.#field.endsWith('\r')) this.#field = this.#field.slice(0, -1);
        this.#endRecord(false, onRecord);
        this.#line += 1;
        this.#recordLine = this.#line;
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
      if (this.#afterQuote) {
        const extra = text.slice(i, j);
        if (extra.trim() !== '' && extra !== '\r') {
          throw inputError(this.name, `line ${this.#line}: text after a closing quote; double quotes inside a quoted field ("")`);
        }
      } else {
        this.#field += text.slice(i, j);
      }
      i = j;
    }
  }

  end(text, onRecord) {
    this.push(text, onRecord);
    if (this.#quoted) throw inputError(this.name, `line ${this.#recordLine}: a quoted field is never closed; the file may be truncated`);
    if (this.#field !== '' || this.#fields.length > 0 || this.#afterQuote) {
      if (this.#field.endsWith('\r')) this.#field = this.#field.slice(0, -1);
      this.#endRecord(true, onRecord);
    }
  }
}

/**
 * Where the vector's columns start if `fields` is pandas' header: 1 (`id,0,1,…`) or 2
 * (`id,title,0,1,…`, `,title,0,1,…`); else -1. Its last field is a number, so the "last field is
 * not a number" rule alone reads it as a row. At least two labels, so that a one-value row `x,0`
 * stays a row.
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

/** Why a field is not a usable value, and the error code for it. */
function badValue(s, v) {
  const t = s.trim();
  if (t === '') return ['is empty', 'ERR_INPUT'];
  if (/^[+-]?nan$/i.test(t)) return ['is NaN', 'ERR_NON_FINITE'];
  if (/^[+-]?inf(inity)?$/i.test(t) || !Number.isNaN(v)) return ['is infinite', 'ERR_NON_FINITE'];
  return [`is ${describe(s)}, not a number`, 'ERR_INPUT'];
}

/**
 * The rows of a CSV embeddings source in batches: `{ start, count, dim, dtype: 'float32', rows,
 * ids, titles, bytesRead }` (ids are strings, as CSV gives them; titles '' without a title column).
 * Memory: one batch, the source's current chunk and the longest record; never the file.
 * @param {import('../byte-source.js').ByteSource} src
 * @param {{ batchRows: number, expectedDim?: number }} options
 */
export async function* csvBatches(src, { batchRows, expectedDim }) {
  const { name } = src;
  let header = null;
  let hasTitle = null;
  let width = -1;
  let firstLine = 0;
  let batcher = null;
  const read = { bytes: 0 };
  const out = [];
  const onRecord = (fields, lineNo, isLast) => {
    if (header === null && width < 0) {
      const vectorStart = pandasVectorStart(fields);
      if (vectorStart > 0 || !numberLike(fields[fields.length - 1])) {
        header = fields;
        if (fields.length < 2) throw inputError(name, `line ${lineNo}: the header has only one column; expected id, optional title, then the vector`);
        hasTitle = vectorStart > 0 ? vectorStart === 2 : fields[1].trim().toLowerCase() === 'title';
        return;
      }
    }
    if (width < 0) {
      hasTitle ??= fields.length >= 2 && !numberLike(fields[1]);
      width = fields.length;
      firstLine = lineNo;
      const dim = width - 1 - (hasTitle ? 1 : 0);
      if (header && header.length !== width) {
        throw inputError(name, `ragged rows: line ${lineNo} has ${fmt(width)} fields but the header has ${fmt(header.length)}`);
      }
      if (dim < 1) throw inputError(name, `line ${lineNo} has no vector values (id${hasTitle ? ', title' : ''} only)`);
      checkDim(name, dim, expectedDim);
      batcher = new RowBatcher(dim, batchRows);
    } else if (fields.length !== width) {
      throw inputError(name, `ragged rows: line ${lineNo} has ${fmt(fields.length)} fields but line ${firstLine} has ${fmt(width)}${isLast ? ' (the file may be truncated)' : ''}`);
    }
    const id = fields[0].trim();
    if (id === '') throw inputError(name, `line ${lineNo}: the id (column 1) is empty`);
    const offset = hasTitle ? 2 : 1;
    const slot = batcher.slot;
    for (let k = 0; k < slot.length; k++) {
      const s = fields[offset + k];
      const t = s.trim();
      const v = t === '' ? NaN : Number(t);
      if (!Number.isFinite(v)) {
        const [what, code] = badValue(s, v);
        throw inputError(name, `line ${lineNo}, column ${offset + k + 1} ${what}`, code);
      }
      slot[k] = v;
      if (!Number.isFinite(slot[k])) throw inputError(name, `line ${lineNo}, column ${offset + k + 1}: ${t} overflows float32`, 'ERR_NON_FINITE');
    }
    batcher.commit(id, hasTitle ? fields[1] : '');
    if (batcher.full) out.push(batcher.take(read.bytes));
  };
  yield* splitText(src, new CsvSplitter(name), onRecord, out, read);
  if (read.bytes === 0) throw inputError(name, 'the file is empty (0 bytes)');
  if (!batcher) throw inputError(name, header ? 'the file has a header but no rows' : 'the file holds no rows');
  if (batcher.count > 0) yield batcher.take(read.bytes);
}
