// One report for an IdTable.add made in several calls into the wasm module (js/assign-batches.js)
// or by a caller adding a file batch by batch (the demo): what a single call over all the rows
// would have reported. Counts add up; the uniqueness shares are over the whole table, so the
// last batch's hold; the cost means are weighted back into sums by the rows each is over (every
// row for the first two, `movedRows` for the moved ones), so they equal one call's up to float
// rounding (~1e-15).

/**
 * @param {object[]} reports IdTable.add reports (camelCase), in the order the batches were added
 * @returns {object} the combined report
 */
export function combineAddReports(reports) {
  if (reports.length === 1) return reports[0];
  const last = reports[reports.length - 1];
  const sum = (get) => reports.reduce((total, r) => total + get(r), 0);
  const rows = sum((r) => r.rows);
  let cost = null;
  if (reports.every((r) => r.cost)) {
    const movedRows = sum((r) => r.cost.movedRows);
    const byRows = (key) => sum((r) => r.cost[key] * r.rows) / rows;
    const byMoved = (key) => (movedRows === 0 ? 0 : sum((r) => r.cost[key] * r.cost.movedRows) / movedRows);
    cost = {
      cosineNearest: byRows('cosineNearest'),
      cosineAssigned: byRows('cosineAssigned'),
      movedCosineNearest: byMoved('movedCosineNearest'),
      movedCosineAssigned: byMoved('movedCosineAssigned'),
      movedRows,
    };
  }
  return {
    ...last,
    rows,
    added: sum((r) => r.added),
    kept: sum((r) => r.kept),
    changed: reports.flatMap((r) => r.changed),
    reassignedChanged: sum((r) => r.reassignedChanged),
    moved: sum((r) => r.moved),
    suffixed: sum((r) => r.suffixed),
    cost,
  };
}
