// How numbers read on the page: thousands separators and percentages with a fixed precision.

export const fmt = (n) => n.toLocaleString('en-US');

/** A fraction (0–1) as a percentage, e.g. 0.97123 → "97.12 %". */
export const percent = (fraction, digits = 1) => `${(100 * fraction).toFixed(digits)} %`;

/** "1 item" / "2 items". */
export const count = (n, noun, plural = `${noun}s`) => `${fmt(n)} ${n === 1 ? noun : plural}`;
