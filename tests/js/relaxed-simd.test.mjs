// The two wasm modules: where the engine runs relaxed SIMD the package loads
// pkg/rqvae_relaxed_bg.wasm, whose CPU encode sums with fused multiply-adds and re-decides
// near-ties canonically, so its IDs must equal the native ones on every row; elsewhere it loads
// pkg/rqvae_bg.wasm. Node.js 20 has relaxed SIMD behind --experimental-wasm-relaxed-simd, so
// each case runs in a child process with or without the flag. (Chromium has it on: the browser
// and demo tests run the relaxed module.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CATALOG_NPY, NEEDS_CATALOG, ROOT, SAMPLE_F16_NPY, SAMPLE_ROWS, nativeIds } from './fixtures.mjs';

/** Encodes the .npy at `file` in a child Node.js; returns its module and its IDs' digest. */
function encodeInChild(file, flags, threads) {
  const script = `
    import { createHash } from 'node:crypto';
    import { readFileSync } from 'node:fs';
    import { Encoder, readNpy, wasmVariant } from ${JSON.stringify(join(ROOT, 'js/node.js'))};
    const { data } = await readNpy(readFileSync(${JSON.stringify(file)}));
    const encoder = await Encoder.loadDefault({ backend: 'cpu', threads: ${threads} });
    const ids = await encoder.encode(data, { batchSize: 1000 });
    encoder.free();
    const wide = Int32Array.from(ids);
    console.log(JSON.stringify({
      variant: await wasmVariant(), rows: ids.length / 3,
      digest: createHash('sha256').update(new Uint8Array(wide.buffer)).digest('hex'),
    }));`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    encoding: 'utf8', timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Both modules, each in the engine it is meant for, give the native IDs of every row of `file`. */
function bothModulesGiveNativeIds(file, rows) {
  const native = nativeIds(file);
  const expected = createHash('sha256').update(new Uint8Array(Int32Array.from(native).buffer)).digest('hex');
  const relaxed = encodeInChild(file, ['--experimental-wasm-relaxed-simd'], 1);
  assert.equal(relaxed.variant, 'relaxed-simd');
  assert.equal(relaxed.rows, rows);
  assert.equal(relaxed.digest, expected, 'relaxed-SIMD IDs differ from native');
  const plain = encodeInChild(file, [], 1);
  assert.equal(plain.variant, 'simd128');
  assert.equal(plain.digest, expected, 'SIMD128 IDs differ from native');
}

test('relaxed SIMD where the engine has it, SIMD128 elsewhere; identical IDs to native on all 3,000 sample rows', { timeout: 300_000 }, () => {
  bothModulesGiveNativeIds(SAMPLE_F16_NPY, SAMPLE_ROWS);
});

test('both modules: identical IDs to native on all 16,859 rows of the full catalog', { timeout: 300_000, ...NEEDS_CATALOG }, () => {
  bothModulesGiveNativeIds(CATALOG_NPY, 16_859);
});
