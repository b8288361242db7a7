// The npm package (wasm, CPU, Node) on a model `rqvae-train import` wrote: its IDs against
// PyTorch's codes (an int64 [N, levels] .npy from benches/pytorch_import.py make), and its rate.
//
//   node benches/pytorch-import-node.mjs MODEL.safetensors INPUTS.npy CODES.npy

import { readFileSync } from 'node:fs';
import { Encoder, readNpy } from '../js/node.js';

const [model, inputs, codesPath] = process.argv.slice(2);
if (!codesPath) throw new Error('usage: node benches/pytorch-import-node.mjs MODEL INPUTS.npy CODES.npy');

function int64Npy(path) {
  const bytes = readFileSync(path);
  const headerEnd = bytes.indexOf(0x0a) + 1;
  if (!bytes.subarray(0, headerEnd).toString('latin1').includes("'<i8'")) throw new Error(`${path}: not int64`);
  return new BigInt64Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length));
}

const { data, rows } = await readNpy(readFileSync(inputs));
const torch = int64Npy(codesPath);
const encoder = await Encoder.load(readFileSync(model), { backend: 'cpu' });
const levels = encoder.config.levels;
const started = performance.now();
const ids = await encoder.encode(data);
const seconds = (performance.now() - started) / 1000;
const differ = [];
for (let r = 0; r < rows; r++) {
  for (let l = 0; l < levels; l++) {
    if (BigInt(ids[r * levels + l]) !== torch[r * levels + l]) {
      differ.push(r);
      break;
    }
  }
}
console.log(JSON.stringify({ rows, equal: rows - differ.length, differ: differ.slice(0, 20), encode_s: +seconds.toFixed(3), items_per_s: Math.round(rows / seconds) }));
encoder.free();
