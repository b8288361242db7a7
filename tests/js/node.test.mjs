// The package's JS API in Node.js (CPU backend): parity with native IDs, f16 input, decode, and
// every kind of bad input as a rejected Promise that leaves the process usable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuWorkerError, Encoder, IdTable, readNpy, RqvaeError, webgpuAdapterKind, webgpuAvailable } from '../../js/node.js';
import { adapterKind } from '../../js/adapter.js';
import { CpuPool } from '../../js/cpu-pool.js';
import { CRASH_EXIT, CRASH_THROW } from './crashing-cpu-worker.mjs';
import { DEFAULT_MODEL, ROOT, SAMPLE_NPY, centredModel, nativeEncode, nativeIds } from './fixtures.mjs';

const sampleBytes = readFileSync(SAMPLE_NPY);
const modelBytes = readFileSync(DEFAULT_MODEL);

test('wasm CPU IDs equal native rqvae-train encode on the 2,000-row sample', async () => {
  const { data, rows, dim, dtype } = await readNpy(sampleBytes);
  assert.equal(rows, 2000);
  assert.equal(dim, 768);
  assert.equal(dtype, 'float32');
  const encoder = await Encoder.loadDefault();
  assert.equal(encoder.backend, 'cpu');
  assert.equal(encoder.config.input_dim, 768);
  let calls = 0;
  const ids = await encoder.encode(data, { batchSize: 512, onProgress: () => calls++ });
  assert.equal(calls, 4);
  assert.ok(ids instanceof Uint16Array);
  assert.equal(ids.length, rows * encoder.config.levels);
  const native = nativeIds();
  assert.equal(native.length, ids.length, 'native and wasm give IDs for the same rows');
  const mismatches = [];
  for (let i = 0; i < native.length; i++) if (native[i] !== ids[i]) mismatches.push(i);
  assert.deepEqual(mismatches, [], 'rows whose wasm IDs differ from native');
  encoder.free();
});

test('float16 input gives the IDs of its float32 widening', async () => {
  const { data } = await readNpy(sampleBytes);
  const rows = data.subarray(0, 64 * 768);
  // Round to f16 through a DataView-free path: Float16 bits via the package's own Rust widening
  // would be circular, so build the bits here and compare with f32 values rebuilt from them.
  const bits = new Uint16Array(rows.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < rows.length; i++) {
    f32[0] = rows[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    if (exp <= 0) bits[i] = sign | ((mant | 0x800000) >>> (14 - exp)); // subnormal, truncated
    else bits[i] = sign | (exp << 10) | (mant >>> 13);
  }
  const widened = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    widened[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  const encoder = await Encoder.loadDefault({ backend: 'cpu' });
  const fromBits = await encoder.encode(bits);
  const fromWidened = await encoder.encode(widened);
  assert.deepEqual(Array.from(fromBits), Array.from(fromWidened));
  encoder.free();
});

test('decode equals the native decoder on the native IDs', async () => {
  const native = nativeEncode();
  const encoder = await Encoder.load(modelBytes);
  assert.ok(encoder.hasDecoder);
  const ids = Uint16Array.from(native.ids.slice(0, 100 * 3));
  const recon = await encoder.decode(ids);
  assert.equal(recon.length, 100 * 768);
  assert.equal(native.recon.length, 2000 * 768, 'native reconstructions of the whole sample');
  // Finite first, on both sides: a decoder that returns NaN must fail here, whatever the
  // difference below makes of it.
  for (const [what, values] of [['wasm', recon], ['native', native.recon]]) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    assert.equal(bad, -1, `${what} reconstruction value ${bad} is ${values[bad]}`);
  }
  let worst = 0;
  for (let i = 0; i < recon.length; i++) worst = Math.max(worst, Math.abs(recon[i] - native.recon[i]));
  assert.ok(worst < 1e-4, `largest difference from native reconstruction: ${worst}`);
  encoder.free();
});

test('a model that centres its inputs (format 2, trained on anisotropic rows): IDs and decode equal native', async () => {
  const { model, npy } = centredModel();
  const bytes = readFileSync(model);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))).toString());
  assert.equal(header.__metadata__.format_version, '2');
  assert.equal(header['input.mean'].dtype, 'F32', 'the transform stays F32 in an F16 export');
  const { data, rows } = await readNpy(readFileSync(npy));
  const native = nativeEncode(npy, model);
  for (const threads of [1, 2]) {
    const encoder = await Encoder.load(bytes, { backend: 'cpu', threads });
    const ids = await encoder.encode(data);
    assert.equal(ids.length, rows * 3);
    const differing = native.ids.findIndex((id, i) => id !== ids[i]);
    assert.equal(differing, -1, `${threads} thread(s): first differing ID at ${differing}`);
    encoder.free();
  }
  // The plain default model gives these rows other IDs: the transform is what is being tested.
  const plain = await Encoder.loadDefault({ backend: 'cpu' });
  const plainIds = await plain.encode(data.subarray(0, 200 * 768));
  assert.ok(plainIds.some((id, i) => id !== native.ids[i]));
  plain.free();
  // Reconstructions come back in the rows' own (shifted) space, as natively.
  const encoder = await Encoder.load(bytes);
  const recon = await encoder.decode(Uint16Array.from(native.ids.slice(0, 100 * 3)));
  let worst = 0;
  for (let i = 0; i < recon.length; i++) worst = Math.max(worst, Math.abs(recon[i] - native.recon[i]));
  assert.ok(worst < 1e-4, `largest difference from native reconstruction: ${worst}`);
  encoder.free();
});

test('bad input rejects with a clear message and the encoder stays usable', async () => {
  const { data } = await readNpy(sampleBytes);
  const good = data.subarray(0, 10 * 768);
  const encoder = await Encoder.loadDefault();
  const expected = Array.from(await encoder.encode(good));

  await assert.rejects(encoder.encode(new Float32Array(769)), /not a whole number of rows of dimension 768/);
  await assert.rejects(encoder.encode(new Float32Array(512 * 2), { dim: 512 }), /dimension is 512 but the model expects 768/);
  await assert.rejects(encoder.encode(new Float32Array(0)), /empty/);
  const withNan = Float32Array.from(good);
  withNan[3 * 768 + 5] = NaN;
  await assert.rejects(encoder.encode(withNan), /row 3, column 5 is NaN/);
  // In the second batch: the row number counts from the start of the whole array.
  const withInf = Float32Array.from(data);
  withInf[1500 * 768 + 7] = Infinity;
  await assert.rejects(encoder.encode(withInf, { batchSize: 1000 }), /row 1500, column 7 is inf/);
  await assert.rejects(encoder.encode([1, 2, 3]), /Float32Array/);
  await assert.rejects(encoder.decode([0, 0, 9999]), /outside the codebook/);
  // Past 65,535 a Uint16Array would wrap (65,541 → 5): such IDs are refused, not decoded as others.
  await assert.rejects(encoder.decode([65541, 0, 0]), /ID 65541 at row 0, level 0 is outside the codebook \(size 256\)/);
  await assert.rejects(encoder.decode([0, 1.5, 0]), /ID 1.5 at row 0, level 1 is outside the codebook/);
  await assert.rejects(encoder.decode([0, 0, -1]), /ID -1 at row 0, level 2 is outside the codebook/);
  await assert.rejects(encoder.decode([0, 0]), /whole number of rows of 3 levels/);

  assert.deepEqual(Array.from(await encoder.encode(good)), expected, 'encoder still works');

  encoder.free();
  await assert.rejects(encoder.encode(good), /freed/);
  encoder.free(); // a second free is harmless

  // free() during an encode (between batches) rejects that encode with the same kind of message.
  const busy = await Encoder.loadDefault();
  let batches = 0;
  await assert.rejects(
    busy.encode(data, { batchSize: 100, onProgress: () => { batches += 1; if (batches === 2) busy.free(); } }),
    /this encoder was freed while encoding/,
  );
  assert.equal(batches, 2);
});

test('bad weights reject with a message naming the problem', async () => {
  await assert.rejects(Encoder.load(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), /weights: not a safetensors file/);
  await assert.rejects(Encoder.load(modelBytes.subarray(0, modelBytes.length - 1000)), /weights: /);
  const corrupted = Uint8Array.from(modelBytes);
  // A byte offset: the header's length prefix is not text.
  const at = modelBytes.indexOf('\\"input_dim\\":768');
  assert.ok(at > 0, 'config in metadata');
  // Another input size in the config: every encoder.layers.0 shape now disagrees.
  corrupted.set(new TextEncoder().encode('\\"input_dim\\":512'), at);
  await assert.rejects(Encoder.load(corrupted), /encoder\.layers\.0\.weight.*\[768, 512\].*\[512, 512\]/);
  await assert.rejects(Encoder.load(42), /weights must be bytes \(Uint8Array, ArrayBuffer\), a Response, a URL/);
  // A string is where the weights are: in Node.js a path (or a file: or http(s) URL).
  await assert.rejects(Encoder.load('no-such-model.safetensors'), /could not read weights from no-such-model\.safetensors: ENOENT/);
  await assert.rejects(Encoder.load(modelBytes, { backend: 'cuda' }), /backend must be/);
  // The module still loads good weights afterwards.
  const encoder = await Encoder.load(modelBytes.buffer.slice(modelBytes.byteOffset, modelBytes.byteOffset + modelBytes.byteLength));
  assert.equal(encoder.config.levels, 3);
  encoder.free();
});

test('auto decides by the adapter: fallback and software rasterisers are software, GPUs hardware', () => {
  assert.equal(adapterKind({ info: { isFallbackAdapter: true, vendor: 'nvidia' } }), 'software');
  assert.equal(adapterKind({ isFallbackAdapter: true, info: {} }), 'software');
  assert.equal(adapterKind({ info: { vendor: 'google', architecture: 'swiftshader', description: '' } }), 'software');
  assert.equal(adapterKind({ info: { vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }), 'software');
  assert.equal(adapterKind({ info: { description: 'Microsoft Basic Render Driver' } }), 'software');
  assert.equal(adapterKind({ info: { vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false } }), 'hardware');
  assert.equal(adapterKind({ info: { vendor: 'apple', architecture: 'metal-3' } }), 'hardware');
  // An adapter that reports nothing is taken for hardware, as browsers hide details by default.
  assert.equal(adapterKind({}), 'hardware');
});

test('WebGPU requested in Node.js rejects; auto falls back to the CPU', async () => {
  assert.equal(await webgpuAvailable(), false);
  assert.equal(await webgpuAdapterKind(), 'none');
  await assert.rejects(Encoder.loadDefault({ backend: 'webgpu' }), /no WebGPU adapter/);
  const encoder = await Encoder.loadDefault({ backend: 'auto' });
  const { data } = await readNpy(sampleBytes);
  await encoder.encode(data.subarray(0, 768));
  assert.equal(encoder.backend, 'cpu');
  encoder.free();
});

test('readNpy rejects bad files with the reason', async () => {
  await assert.rejects(readNpy(new Uint8Array(0)), /empty/);
  await assert.rejects(readNpy(new TextEncoder().encode('id,title\n1,x\n')), /not a \.npy file/);
  await assert.rejects(readNpy(sampleBytes.subarray(0, sampleBytes.length - 10)), /truncated data/);
});

// That both workers did some of the work is checked on the pool itself, below.
test('threads: 2 gives the native IDs, f32 and f16', async () => {
  const { data } = await readNpy(sampleBytes);
  const encoder = await Encoder.loadDefault({ backend: 'cpu', threads: 2 });
  assert.equal(encoder.threads, 2);
  const progress = [];
  const ids = await encoder.encode(data, { batchSize: 300, onProgress: (p) => progress.push(p.done) });
  // 2,000 rows in batches of 300: 7 batches, counted as they finish, in whatever order.
  assert.equal(progress.length, 7);
  assert.equal(progress.at(-1), 2000);
  assert.deepEqual(Array.from(ids), nativeIds());
  // f16 bits are widened in the workers: compare with one thread on the same bits.
  const bits = new Uint16Array(200 * 768).map((_, i) => 0x3c00 ^ (i % 977)); // values near 1
  const single = await Encoder.loadDefault({ backend: 'cpu' });
  assert.deepEqual(await encoder.encode(bits, { batchSize: 64 }), await single.encode(bits));
  single.free();
  encoder.free();
});

test('errors from CPU workers name the row of the whole array; the encoder stays usable', async () => {
  const { data } = await readNpy(sampleBytes);
  const encoder = await Encoder.loadDefault({ backend: 'cpu', threads: 2 });
  const bad = data.slice(0, 1000 * 768);
  bad[777 * 768 + 5] = Number.NaN;
  await assert.rejects(encoder.encode(bad, { batchSize: 100 }), /row 777/);
  const ids = await encoder.encode(data.subarray(0, 10 * 768));
  assert.deepEqual(Array.from(ids), nativeIds().slice(0, 30));
  await assert.rejects(Encoder.loadDefault({ threads: 0 }), /threads must be an integer from 1 to 256/);
  encoder.free();
  await assert.rejects(encoder.encode(data.subarray(0, 768)), /freed/);
});

/** A CpuPool of `threads` workers on the default model (`workerUrl` swaps the worker script). */
async function startPool(threads, options) {
  const module = await WebAssembly.compile(readFileSync(join(ROOT, 'pkg/rqvae_bg.wasm')));
  const pool = await CpuPool.start(threads, module, modelBytes, options);
  const encode = async (rows, batchSize) => {
    const out = new Uint16Array((rows.length / 768) * 3);
    await pool.encode(rows, { width: 768, isF16: false, batchSize, levels: 3, out });
    return Array.from(out);
  };
  return { pool, encode };
}

test('a pool of 2 workers shares the work: each worker reports rows it encoded', async () => {
  const { data } = await readNpy(sampleBytes);
  const { pool, encode } = await startPool(2);
  assert.deepEqual(pool.rowsPerWorker, [0, 0]);
  assert.deepEqual(await encode(data, 300), nativeIds());
  // The counts come from the workers themselves, so a pool that fed one worker only, or lost
  // a batch, fails here even when the IDs are right.
  const [first, second] = pool.rowsPerWorker;
  assert.ok(first >= 300 && second >= 300, `rows per worker: ${first}, ${second}`);
  assert.equal(first + second, 2000);
  pool.terminate();
});

test('a CPU worker that dies mid-call rejects that call, is replaced, and the next call gives the right IDs', { timeout: 60_000 }, async () => {
  const { data } = await readNpy(sampleBytes);
  const rows = data.slice(0, 600 * 768);
  const expected = nativeIds().slice(0, 600 * 3);
  const { pool, encode } = await startPool(2, { workerUrl: new URL('./crashing-cpu-worker.mjs', import.meta.url) });
  for (const [sentinel, reason] of [[CRASH_EXIT, /its thread exited with code 3/], [CRASH_THROW, /uncaught Error: test crash on the batch at row 300/]]) {
    const poisoned = Float32Array.from(rows);
    poisoned[300 * 768] = sentinel; // the first value of the batch at row 300
    await assert.rejects(encode(poisoned, 100), (e) => {
      assert.ok(e instanceof CpuWorkerError, `${e.name}: ${e.message}`);
      assert.match(e.message, /^a CPU worker died during the call \(/);
      assert.match(e.message, reason);
      return true;
    });
    assert.equal(pool.size, 2);
    assert.deepEqual(await encode(rows, 100), expected, `after a worker died (${reason})`);
    assert.ok(pool.rowsPerWorker.every((r) => r > 0), `both workers work again: ${pool.rowsPerWorker}`);
  }
  pool.terminate();
  await assert.rejects(encode(rows, 100), /the encoder was freed during the call/);
});

test('free() during an encode on 2 workers rejects that encode with the freed message', { timeout: 60_000 }, async () => {
  const { data } = await readNpy(sampleBytes);
  const encoder = await Encoder.loadDefault({ backend: 'cpu', threads: 2 });
  let batches = 0;
  await assert.rejects(
    encoder.encode(data, { batchSize: 100, onProgress: () => { batches += 1; if (batches === 2) encoder.free(); } }),
    (e) => {
      assert.equal(e.message, 'the encoder was freed during the call');
      assert.ok(!(e instanceof CpuWorkerError), 'freeing is not a worker failure');
      return true;
    },
  );
  await assert.rejects(encoder.encode(data.subarray(0, 768)), /freed/);
});

test('every failure is an RqvaeError with a stable code; cancelling rejects with the signal reason', async () => {
  const { data } = await readNpy(sampleBytes);
  const code = (expected) => (e) => {
    assert.ok(e instanceof RqvaeError, `an RqvaeError, not ${e?.name}: ${e?.message}`);
    assert.equal(e.code, expected, e.message);
    return true;
  };
  const encoder = await Encoder.loadDefault();
  const nan = data.slice(0, 10 * 768);
  nan[5 * 768 + 1] = NaN;
  // Codes made in Rust (the wasm module) and in JavaScript alike.
  await assert.rejects(encoder.encode(nan), code('ERR_NON_FINITE'));
  await assert.rejects(encoder.encode(new Float32Array(2 * 512), { dim: 512 }), code('ERR_DIMENSION'));
  await assert.rejects(encoder.encode(new Float32Array(769)), code('ERR_INPUT'));
  await assert.rejects(encoder.encode([1, 2]), code('ERR_INPUT'));
  await assert.rejects(encoder.encode(data, { batchSize: 0 }), code('ERR_OPTION'));
  await assert.rejects(encoder.decode([0, 0, 300]), code('ERR_ID_RANGE'));
  await assert.rejects(encoder.decode(Uint16Array.of(0, 0, 300)), code('ERR_ID_RANGE'));
  await assert.rejects(readNpy(new Uint8Array(20)), code('ERR_NPY'));
  await assert.rejects(Encoder.load(new Uint8Array(64)), code('ERR_WEIGHTS'));
  await assert.rejects(Encoder.loadDefault({ backend: 'gpu' }), code('ERR_OPTION'));
  await assert.rejects(Encoder.loadDefault({ backend: 'webgpu' }), code('ERR_NO_WEBGPU'));
  await assert.rejects(IdTable.load('{"id": 1}\n'), code('ERR_TABLE'));
  await assert.rejects(IdTable.assign(encoder, data.subarray(0, 2 * 768), { ids: ['a'] }), code('ERR_IDS'));

  // Cancel: an AbortError by default, or the reason given, on one thread and on workers.
  for (const threads of [1, 2]) {
    const enc = await Encoder.loadDefault({ threads });
    const plain = new AbortController();
    await assert.rejects(
      enc.encode(data, { batchSize: 100, signal: plain.signal, onProgress: () => plain.abort() }),
      (e) => e instanceof DOMException && e.name === 'AbortError',
    );
    const reasoned = new AbortController();
    const reason = new Error('user pressed stop');
    await assert.rejects(
      enc.encode(data, { batchSize: 100, signal: reasoned.signal, onProgress: () => reasoned.abort(reason) }),
      (e) => e === reason,
    );
    enc.free();
    await assert.rejects(enc.encode(data), code('ERR_FREED'));
  }
  // Through a worker: the wasm module's code survives the trip.
  const pooled = await Encoder.loadDefault({ threads: 2 });
  await assert.rejects(pooled.encode(nan, { batchSize: 4 }), code('ERR_NON_FINITE'));
  pooled.free();
  encoder.free();
});
