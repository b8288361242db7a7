// Text sources for the JSON Lines and CSV readers: UTF-8 decoded chunk by chunk (a character
// split across chunks is decoded whole), a leading byte-order mark dropped, lines split with
// their numbers, and what JSON values look like in messages.

/**
 * The decoded text of `src`, piece by piece: `{ text, bytesRead, done }`, the last with `done`.
 * The decoder drops one leading BOM; a second one, which some tools write, is dropped too, and in
 * the same way whatever the chunking (the first piece can be '' when a chunk ends inside it).
 * @param {import('../byte-source.js').ByteSource} src
 */
export async function* decodedText(src) {
  const decoder = new TextDecoder('utf-8');
  let first = true;
  let bytesRead = 0;
  const strip = (text) => {
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) return text.slice(1);
    }
    return text;
  };
  for await (const chunk of src.chunks()) {
    bytesRead += chunk.length;
    yield { text: strip(decoder.decode(chunk, { stream: true })), bytesRead, done: false };
  }
  yield { text: strip(decoder.decode()), bytesRead, done: true };
}

/**
 * Splits text fed in pieces into lines (LF or CRLF), numbered from 1; a last line without a
 * newline is passed with `isLast` true.
 */
export class LineSplitter {
  #carry = '';
  #lineNo = 0;

  /** @param {(line: string, lineNo: number, isLast: boolean) => void} onLine */
  push(text, onLine) {
    // Most of a long line's pieces hold no newline: only append them.
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.#carry += text;
      return;
    }
    const all = this.#carry + text;
    nl += this.#carry.length;
    let start = 0;
    while (nl >= 0) {
      this.#lineNo += 1;
      const end = nl > start && all.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      onLine(all.slice(start, end), this.#lineNo, false);
      start = nl + 1;
      nl = all.indexOf('\n', start);
    }
    this.#carry = all.slice(start);
  }

  end(text, onLine) {
    this.push(text, onLine);
    const last = this.#carry;
    this.#carry = '';
    if (last.length > 0) onLine(last.endsWith('\r') ? last.slice(0, -1) : last, this.#lineNo + 1, true);
  }
}

/** A JSON value as a message shows it: short strings quoted, containers by kind. */
export function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}

/**
 * Runs `src`'s text through `splitter` (a LineSplitter or a CsvSplitter: `push` / `end` call
 * `onUnit` per line or record) and yields the batches `onUnit` queued in `out`, as they fill.
 * `read.bytes` follows the bytes decoded so far, for the batches' progress. Batches completed
 * before a unit that throws still go out, before the error.
 */
export async function* splitText(src, splitter, onUnit, out, read) {
  for await (const piece of decodedText(src)) {
    read.bytes = piece.bytesRead;
    try {
      if (piece.done) splitter.end(piece.text, onUnit);
      else splitter.push(piece.text, onUnit);
    } catch (e) {
      yield* out.splice(0);
      throw e;
    }
    yield* out.splice(0);
  }
}
