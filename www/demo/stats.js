// Pure helpers on semantic IDs (row-major N × levels Uint16Array): metrics, tokens, exports.
// Definitions follow the trainer's metrics (src/metrics.rs). The exports give each item the
// model's nearest codes (A, B, C, token) and its unique ID from the ID table (semantic_id).

export const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** The token string of one item, e.g. <a_12><b_200><c_7>. */
export function tokenOf(ids, row, levels) {
  let s = '';
  for (let l = 0; l < levels; l++) s += `<${LETTERS[l]}_${ids[row * levels + l]}>`;
  return s;
}

/** The token string of a prefix given as an array of codes. */
export function prefixToken(codes) {
  return codes.map((c, l) => `<${LETTERS[l]}_${c}>`).join('');
}

/**
 * Per level: codes used by at least one item, utilisation (used / codebook size) and perplexity
 * (exp of the entropy of the code-usage distribution).
 */
export function levelStats(ids, n, levels, codebookSize) {
  const out = [];
  for (let l = 0; l < levels; l++) {
    const counts = new Float64Array(codebookSize);
    for (let i = 0; i < n; i++) counts[ids[i * levels + l]] += 1;
    let used = 0;
    let entropy = 0;
    for (const c of counts) {
      if (c > 0) {
        used += 1;
        const p = c / n;
        entropy -= p * Math.log(p);
      }
    }
    out.push({ level: l, used, utilisation: used / codebookSize, perplexity: Math.exp(entropy) });
  }
  return out;
}

/** Distinct full tuples, and the largest groups of items sharing one (size ≥ 2), biggest first. */
export function tupleStats(ids, n, levels, top = 10) {
  const groups = new Map();
  for (let i = 0; i < n; i++) {
    let key = 0;
    for (let l = 0; l < levels; l++) key = key * 65536 + ids[i * levels + l];
    const rows = groups.get(key);
    if (rows) rows.push(i);
    else groups.set(key, [i]);
  }
  const collisions = [];
  let collided = 0;
  for (const rows of groups.values()) {
    if (rows.length > 1) {
      collisions.push(rows);
      collided += rows.length;
    }
  }
  collisions.sort((a, b) => b.length - a.length || a[0] - b[0]);
  return {
    unique: groups.size,
    uniqueFraction: groups.size / n,
    itemsInCollisions: collided,
    collisionGroups: collisions.length,
    largest: collisions.slice(0, top).map((rows) => ({
      codes: Array.from({ length: levels }, (_, l) => ids[rows[0] * levels + l]),
      rows: rows.slice(0, 50),
      size: rows.length,
    })),
  };
}

/** One CSV field, quoted (RFC 4180) when it holds a quote, comma or line break, or edge spaces. */
function csvField(value) {
  const s = String(value);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

// Spreadsheets run a cell that starts with one of these as a formula (CSV injection). OWASP's
// remedy: a leading single quote, which makes the cell text.
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A free-text field (a title) made safe to open in a spreadsheet, then quoted. Ids are not
 * passed through this: they are join keys and must stay exactly as given.
 */
function csvTextField(value) {
  const s = String(value);
  return csvField(FORMULA_START.test(s) ? `'${s}` : s);
}

/**
 * CSV text: header id,title,A,B,C,token,semantic_id then one line per item. Titles that would
 * start a formula get a leading ' (csvTextField).
 */
export function toCsv(result) {
  const { ids, levels, itemIds, titles, rows, table } = result;
  const letters = LETTERS.slice(0, levels).toUpperCase().split('');
  const lines = [['id', 'title', ...letters, 'token', 'semantic_id'].join(',')];
  for (let i = 0; i < rows; i++) {
    const codes = Array.from(ids.subarray(i * levels, (i + 1) * levels));
    lines.push([csvField(itemIds[i]), csvTextField(titles[i]), ...codes, tokenOf(ids, i, levels), tokenOf(table.ids, i, levels + 1)].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** JSON Lines text: {"id","title","A","B","C","token","semantic_id"} per item. */
export function toJsonl(result) {
  const { ids, levels, itemIds, titles, rows, table } = result;
  const letters = LETTERS.slice(0, levels).toUpperCase().split('');
  const lines = [];
  for (let i = 0; i < rows; i++) {
    const obj = { id: itemIds[i], title: titles[i] };
    letters.forEach((letter, l) => {
      obj[letter] = ids[i * levels + l];
    });
    obj.token = tokenOf(ids, i, levels);
    obj.semantic_id = tokenOf(table.ids, i, levels + 1);
    lines.push(JSON.stringify(obj));
  }
  return `${lines.join('\n')}\n`;
}
