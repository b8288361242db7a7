// Pure helpers on semantic IDs (row-major N × levels Uint16Array): collision groups, tokens,
// exports. Per-level metrics come from the package (codeUsage). The exports give each item the
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
 * The largest groups of items sharing all their codes (size ≥ 2), biggest first (then by first
 * row), and how many groups and items collide. The per-level metrics and the count of distinct
 * tuples are the package's (codeUsage, the trainer's definitions); these groups are the page's
 * own view. Rows are sorted by their codes rather than hashed, so a million items cost a few
 * typed arrays, not a million map entries.
 */
export function collisionGroups(ids, n, levels, top = 10) {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    for (let l = 0; l < levels; l++) {
      const d = ids[a * levels + l] - ids[b * levels + l];
      if (d !== 0) return d;
    }
    return a - b;
  });
  const same = (a, b) => {
    for (let l = 0; l < levels; l++) if (ids[a * levels + l] !== ids[b * levels + l]) return false;
    return true;
  };
  let groups = 0;
  let collided = 0;
  const largest = []; // { at, size } into `order`, the `top` largest so far
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && same(order[i], order[j])) j += 1;
    const size = j - i;
    if (size > 1) {
      groups += 1;
      collided += size;
      largest.push({ at: i, size });
      if (largest.length > 4 * top) {
        largest.sort((a, b) => b.size - a.size || order[a.at] - order[b.at]);
        largest.length = top;
      }
    }
    i = j;
  }
  largest.sort((a, b) => b.size - a.size || order[a.at] - order[b.at]);
  return {
    itemsInCollisions: collided,
    collisionGroups: groups,
    largest: largest.slice(0, top).map(({ at, size }) => ({
      codes: Array.from(ids.subarray(order[at] * levels, (order[at] + 1) * levels)),
      rows: Array.from(order.subarray(at, at + Math.min(size, 50))),
      size,
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
 * start a formula get a leading ' (csvTextField). `only`: these rows, in this order; `names`
 * (codes of a prefix → its name or null) adds the columns name_A, name_AB, name_ABC.
 */
export function toCsv(result, { only, names } = {}) {
  const { ids, levels, itemIds, titles, rows, table } = result;
  const letters = LETTERS.slice(0, levels).toUpperCase().split('');
  const nameColumns = names ? letters.map((_, l) => `name_${letters.slice(0, l + 1).join('')}`) : [];
  const lines = [['id', 'title', ...letters, 'token', 'semantic_id', ...nameColumns].join(',')];
  for (const i of only ?? rowRange(rows)) {
    const codes = Array.from(ids.subarray(i * levels, (i + 1) * levels));
    const named = names ? codes.map((_, l) => csvTextField(names(codes.slice(0, l + 1)) ?? '')) : [];
    lines.push([csvField(itemIds[i]), csvTextField(titles[i]), ...codes, tokenOf(ids, i, levels), tokenOf(table.ids, i, levels + 1), ...named].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Every row index, in order. */
function* rowRange(rows) {
  for (let i = 0; i < rows; i++) yield i;
}

/** JSON Lines text: {"id","title","A","B","C","token","semantic_id"} per item (`only` and
 * `names` as in toCsv: names add "name_A", "name_AB", "name_ABC"). */
export function toJsonl(result, { only, names } = {}) {
  const { ids, levels, itemIds, titles, rows, table } = result;
  const letters = LETTERS.slice(0, levels).toUpperCase().split('');
  const lines = [];
  for (const i of only ?? rowRange(rows)) {
    const obj = { id: itemIds[i], title: titles[i] };
    letters.forEach((letter, l) => {
      obj[letter] = ids[i * levels + l];
    });
    obj.token = tokenOf(ids, i, levels);
    obj.semantic_id = tokenOf(table.ids, i, levels + 1);
    if (names) {
      const codes = Array.from(ids.subarray(i * levels, (i + 1) * levels));
      letters.forEach((_, l) => {
        obj[`name_${letters.slice(0, l + 1).join('')}`] = names(codes.slice(0, l + 1)) ?? null;
      });
    }
    lines.push(JSON.stringify(obj));
  }
  return `${lines.join('\n')}\n`;
}
