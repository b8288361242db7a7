// "Items like this one": the run's embeddings kept in the worker as 8-bit copies of their unit
// vectors (a byte per value: 100,000 items of 768 values are 77 MB, a quarter of float32), and
// an item's nearest items by cosine, found by comparing it with every item. The 8-bit cosines
// rank neighbours nearly as the exact ones do (docs/demo.md says how nearly); IDs never come
// from them.

/** The most the copies may take; a larger run keeps none and says so. */
export const MAX_VECTOR_BYTES = 256 * 1024 * 1024;

/** float16 bit patterns to numbers, for .npy files of float16 (a table of every pattern). */
let halfTable = null;
function halfToFloat(bits) {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      if (exp === 0) halfTable[h] = sign * frac * 2 ** -24;
      else if (exp === 31) halfTable[h] = frac ? NaN : sign * Infinity;
      else halfTable[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
    }
  }
  return halfTable[bits];
}

export class VectorStore {
  #chunks = [];
  #data = null;
  rows = 0;
  dim = 0;
  /** Why there are no copies (too large), or null. */
  unavailable = null;

  /**
   * Whether `rows` items of `dim` values fit; if not, none is kept. Called with the file's size
   * when it is known up front, so that a large file is not copied up to the cap first.
   */
  fits(rows, dim) {
    if (this.unavailable) return false;
    if (rows * dim <= MAX_VECTOR_BYTES) return true;
    this.unavailable = `more than ${Math.floor(MAX_VECTOR_BYTES / dim).toLocaleString('en-US')} items of ${dim} values: the page keeps no copies of the vectors for "items like this one"`;
    this.#chunks = [];
    this.#data = null;
    return false;
  }

  /** Keeps `count` rows of `dim` values (float32, or float16 bit patterns when `isF16`). */
  push(values, dim, count, isF16) {
    if (!this.fits(this.rows + count, dim)) return;
    const out = new Int8Array(count * dim);
    const row = new Float32Array(dim);
    for (let r = 0; r < count; r++) {
      let norm = 0;
      for (let j = 0; j < dim; j++) {
        const v = isF16 ? halfToFloat(values[r * dim + j]) : values[r * dim + j];
        row[j] = v;
        norm += v * v;
      }
      const scale = norm > 0 ? 127 / Math.sqrt(norm) : 0;
      for (let j = 0; j < dim; j++) out[r * dim + j] = Math.round(row[j] * scale);
    }
    this.#chunks.push(out);
    this.rows += count;
    this.dim = dim;
    this.#data = null;
  }

  #all() {
    if (!this.#data) {
      this.#data = new Int8Array(this.rows * this.dim);
      let at = 0;
      for (const c of this.#chunks) {
        this.#data.set(c, at);
        at += c.length;
      }
      this.#chunks = [this.#data];
    }
    return this.#data;
  }

  /** The `k` items nearest to item `row` by cosine, nearest first, the item itself left out. */
  nearest(row, k) {
    if (this.unavailable) throw new Error(this.unavailable);
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) throw new Error(`no item ${row}: the run has ${this.rows} items`);
    const data = this.#all();
    const { dim } = this;
    const best = []; // [cosine, row], kept sorted, nearest first
    const q = row * dim;
    for (let r = 0; r < this.rows; r++) {
      if (r === row) continue;
      let s = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) s += data[q + j] * data[o + j];
      const cosine = s / (127 * 127);
      if (best.length < k || cosine > best[best.length - 1][0]) {
        let at = best.length;
        while (at > 0 && best[at - 1][0] < cosine) at--;
        best.splice(at, 0, [cosine, r]);
        if (best.length > k) best.pop();
      }
    }
    return best.map(([cosine, r]) => ({ row: r, cosine }));
  }
}
