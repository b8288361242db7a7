// Models imported from PyTorch checkpoints by `rqvae-train import`, encoded by the npm package
// (wasm, CPU): the IDs PyTorch's own encode gave (tests/fixtures/torch, made by
// make_fixtures.py), and what the CLI gives natively.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, readNpy } from '../../js/node.js';
import { ROOT, nativeIds, trainerBin } from './fixtures.mjs';

const FIXTURES = join(ROOT, 'tests/fixtures/torch');
const dir = mkdtempSync(join(tmpdir(), 'rqvae-import-'));

function importCheckpoint(name, extra = []) {
  const out = join(dir, `${name}.safetensors`);
  execFileSync(trainerBin(), ['import', '--pth', join(FIXTURES, `${name}.pth`), '--out', out, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return out;
}

const cases = [
  ['torch-ref', 'inputs.npy', []],
  ['residual-vq', 'inputs.npy', []],
  ['rq-vae-recommender', 'inputs.npy', []],
  ['custom', 'custom.inputs.npy', ['--key-map', join(FIXTURES, 'custom.keymap.json'), '--f16']],
];

for (const [name, inputs, extra] of cases) {
  test(`a model imported from ${name}.pth encodes in the package to PyTorch's IDs`, async () => {
    const model = importCheckpoint(name, extra);
    const { data, rows } = await readNpy(readFileSync(join(FIXTURES, inputs)));
    const encoder = await Encoder.load(readFileSync(model), { backend: 'cpu' });
    try {
      const ids = Array.from(await encoder.encode(data));
      const torch = JSON.parse(readFileSync(join(FIXTURES, `${name}.codes.json`), 'utf8')).codes.flat();
      assert.equal(ids.length, rows * 3);
      if (!extra.includes('--f16')) {
        // The fixtures are far enough from ties for rounding not to move any row (the Rust test
        // holds them to the contract's margin).
        assert.deepEqual(ids, torch);
      }
      assert.deepEqual(ids, nativeIds(join(FIXTURES, inputs), model));
    } finally {
      encoder.free();
    }
  });
}

test('a checkpoint that would run code is refused by the CLI and nothing is written', () => {
  const out = join(dir, 'evil.safetensors');
  assert.throws(
    () => execFileSync(trainerBin(), ['import', '--pth', join(FIXTURES, 'bad-executes-code.pth'), '--out', out], { stdio: 'pipe' }),
    (err) => String(err.stderr).includes('posix.system') && err.status === 1,
  );
  assert.throws(() => readFileSync(out), { code: 'ENOENT' });
});
