// How close the demo's 8-bit cosines (www/demo/neighbours.js) come to float32 ones on the shipped
// sample: for the first 200 items, the error of each of their ten nearest and the share of the
// exact ten nearest found. docs/demo.md quotes it.   node benches/neighbours-q8.mjs

import { readFileSync } from 'node:fs';
import { VectorStore } from '../www/demo/neighbours.js';
import { readNpy } from '../js/node.js';
const npy = await readNpy(readFileSync(new URL('../www/sample/games-3000.f16.npy', import.meta.url)));
const { data, rows, dim } = npy; // float32
const s = new VectorStore();
// as the worker sees an f16 file: bit patterns
const raw = readFileSync(new URL('../www/sample/games-3000.f16.npy', import.meta.url));
const hl = raw.readUInt16LE(8); const bits = new Uint16Array(raw.buffer.slice(raw.byteOffset + 10 + hl, raw.byteOffset + raw.length));
s.push(bits, dim, rows, true);
const norm = (r) => Math.sqrt(data.subarray(r*dim,(r+1)*dim).reduce((a,v)=>a+v*v,0));
let maxErr = 0, sumErr = 0, n = 0, sameTop = 0;
for (let q = 0; q < 200; q++) {
  const got = s.nearest(q, 10);
  const exact = [];
  for (let r = 0; r < rows; r++) { if (r === q) continue; let d = 0; for (let j = 0; j < dim; j++) d += data[q*dim+j]*data[r*dim+j]; exact.push([d/(norm(q)*norm(r)), r]); }
  exact.sort((a,b)=>b[0]-a[0]);
  const ex = new Map(exact.map(([c,r])=>[r,c]));
  for (const g of got) { const e = Math.abs(g.cosine - ex.get(g.row)); maxErr = Math.max(maxErr, e); sumErr += e; n++; }
  const top = new Set(exact.slice(0,10).map(x=>x[1])); sameTop += got.filter(g=>top.has(g.row)).length;
}
console.log({ maxErr, meanErr: sumErr/n, overlapAt10: sameTop/(200*10) });
