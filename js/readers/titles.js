// Catalog titles, read whole (ids and titles are what a run keeps anyway): JSON Lines
// (`{"id"?, "title"}` per line) or CSV with a header (`id,title,…`), for SentenceEncoder. Every
// row needs a title that is not blank, else its item would get a meaningless vector and an ID
// that says nothing: such a row is refused, naming the file and the line, as is a missing field,
// invalid JSON or a ragged CSV row. Without an id an item is named by its row number.

import { fmt, inputError } from './batches.js';
import { CsvSplitter } from './csv.js';
import { LineSplitter, decodedText, describe } from './text.js';

function checkTitle(name, title, lineNo, field) {
  if (typeof title !== 'string') {
    throw inputError(name, `line ${lineNo}: "${field}" is ${describe(title)}, not a string`);
  }
  if (title.trim() === '') {
    throw inputError(name, `line ${lineNo}: the title is ${title === '' ? 'empty' : 'blank'}: an item needs a title to get a meaningful ID`);
  }
  return title;
}

/** A JSON Lines unit reader: `{ onUnit(line, lineNo, isLast), splitter }`. */
function jsonlTitles(name, field, ids, titles) {
  const onUnit = (line, lineNo) => {
    if (line.trim() === '') return;
    let obj;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw inputError(name, `line ${lineNo} is not valid JSON (${e.message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw inputError(name, `line ${lineNo} is ${describe(obj)}, not a JSON object`);
    }
    if (!(field in obj)) {
      const keys = Object.keys(obj).map((k) => JSON.stringify(k)).join(', ') || 'none';
      throw inputError(name, `line ${lineNo} has no "${field}" (it has ${keys})`);
    }
    const { id } = obj;
    if (id !== undefined && !(typeof id === 'string' || Number.isSafeInteger(id))) {
      throw inputError(name, `line ${lineNo}: the id is ${describe(id)}; an id must be a string or an integer`);
    }
    titles.push(checkTitle(name, obj[field], lineNo, field));
    ids.push(id);
  };
  return { onUnit, splitter: new LineSplitter() };
}

function csvTitles(name, field, ids, titles) {
  let header = null;
  let titleAt = -1;
  let idAt = -1;
  const onUnit = (fields, lineNo, isLast) => {
    if (header === null) {
      header = fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f).trim());
      titleAt = header.findIndex((h) => h.toLowerCase() === field.toLowerCase());
      idAt = header.findIndex((h) => h.toLowerCase() === 'id');
      if (titleAt < 0) {
        throw inputError(name, `line ${lineNo}: the header has no "${field}" column (it has ${header.map((h) => JSON.stringify(h)).join(', ')}); a titles CSV starts with a header such as id,title`);
      }
      return;
    }
    if (fields.length !== header.length) {
      throw inputError(name, `line ${lineNo} has ${fmt(fields.length)} fields but the header has ${fmt(header.length)}${isLast ? ' (the file may be truncated)' : ''}`);
    }
    titles.push(checkTitle(name, fields[titleAt], lineNo, field));
    ids.push(idAt >= 0 ? fields[idAt].trim() : undefined);
  };
  return { onUnit, splitter: new CsvSplitter(name) };
}

/**
 * Reads every item's id and title: `{ ids, titles }`, `ids[i]` undefined where the file gives
 * none (the caller numbers those rows).
 * @param {import('../byte-source.js').ByteSource} src
 * @param {{ format: 'jsonl' | 'csv', field?: string, onProgress?: (bytesRead: number) => void }} options
 */
export async function readTitlesFrom(src, { format, field = 'title', onProgress }) {
  const { name } = src;
  const ids = [];
  const titles = [];
  const { onUnit, splitter } = (format === 'csv' ? csvTitles : jsonlTitles)(name, field, ids, titles);
  let bytesRead = 0;
  for await (const piece of decodedText(src)) {
    bytesRead = piece.bytesRead;
    if (piece.done) splitter.end(piece.text, onUnit);
    else splitter.push(piece.text, onUnit);
    onProgress?.(bytesRead);
  }
  if (bytesRead === 0) throw inputError(name, 'the file is empty (0 bytes)');
  if (titles.length === 0) throw inputError(name, 'the file holds no items');
  return { ids, titles };
}
