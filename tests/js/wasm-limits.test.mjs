// No trap reaches a user: every call that allocates in wasm is capped or batched (readNpy refuses
// what would not fit, encode/decode/IdTable.add go batch by batch with the same results), and a
// real trap (Rust's allocation failure aborting with `unreachable`) restarts the module instead of
// breaking every later call: encoders keep working with native IDs, ID tables made before report
// that they were lost, and a CPU worker whose instance traps is replaced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Encoder, IdTable, RqvaeError, readNpy } from '../../js/node.js';
import { wasmEncoders } from '../../js/checks.js';
import { CpuPool } from '../../js/cpu-pool.js';
import { compiledWasm } from '../../js/wasm.js';
import init, { WasmEncoder, f16ToF32 } from '../../pkg/rqvae.js';
import { CRASH_TRAP } from './crashing-cpu-worker.mjs';
import { DEFAULT_MODEL, ROOT, SAMPLE_NPY, itemIds, nativeEncode, nativeIds } from './fixtures.mjs';

const sampleBytes = readFileSync(SAMPLE_NPY);
const modelBytes = readFileSync(DEFAULT_MODEL);
const sample = await readNpy(sampleBytes);
const native = nativeIds();
const ids = itemIds();

const code = (expected) => (e) => {
  assert.ok(e instanceof RqvaeError, `${e?.name}: ${e?.message}`);
  assert.equal(e.code, expected, e.message);
  return true;
};

/**
 * Rows that trap the instance they are copied into: 700,000 × 768 float32 are 2.15 GB, one
 * allocation past wasm32's isize::MAX (2 GiB), so wasm-bindgen's malloc aborts (`unreachable`)
 * before a byte is written. The zeros are pages the system hands out lazily: nothing is touched.
 */
const trapRows = () => new Float32Array(700_000 * 768);

/** A .npy header for `rows × dim` of `descr`, padded as numpy pads it. */
function npyHeader(descr, rows, dim) {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

test('scripts/patch-glue.mjs: patches wasm-bindgen glue once, and fails loudly on glue of another shape', () => {
  const patched = readFileSync(join(ROOT, 'pkg/rqvae.js'), 'utf8');
  const marker = '\n// rqvae: trap recovery (scripts/patch-glue.mjs)';
  assert.ok(patched.includes(marker), 'pkg/rqvae.js is patched (npm run build runs the script)');
  // The glue as wasm-bindgen wrote it: the patch undone.
  const generated = patched.slice(0, patched.indexOf(marker))
    .replace('wasm = __rqvae_guard(instance.exports);', 'wasm = instance.exports;')
    .replaceAll(': __rqvae_registry(', ': new FinalizationRegistry(')
    .replace('    const instance = wasm;\n', '')
    .replaceAll('        if (wasm !== instance) return;\n', '');
  const dir = mkdtempSync(join(tmpdir(), 'rqvae-glue-'));
  const run = (text) => {
    const file = join(dir, 'rqvae.js');
    writeFileSync(file, text);
    try {
      const out = execFileSync(process.execPath, [join(ROOT, 'scripts/patch-glue.mjs'), file], { encoding: 'utf8', stdio: 'pipe' });
      return { ok: true, out, text: readFileSync(file, 'utf8') };
    } catch (e) {
      return { ok: false, out: e.stderr };
    }
  };
  const once = run(generated);
  assert.ok(once.ok, once.out);
  assert.equal(once.text, patched, 'the same patch as pkg/rqvae.js carries');
  const twice = run(once.text);
  assert.match(twice.out, /already patched/);
  assert.equal(twice.text, patched);
  // Glue of another shape: named, not half-patched.
  const unknown = run(generated.replace('let WASM_VECTOR_LEN = 0;', 'let WASM_VECTOR_LEN = 0;\nlet cachedBigInt64ArrayMemory0 = null;'));
  assert.ok(!unknown.ok);
  assert.match(unknown.out, /unknown module-level state `let cachedBigInt64ArrayMemory0`/);
  const moved = run(generated.replace('    wasm = instance.exports;\n', '    wasm = instance.exports; // moved\n'));
  assert.ok(!moved.ok);
  assert.match(moved.out, /wasm = instance.exports;/);
});

test('readNpy refuses a file whose float32 array passes its cap, before copying it in, and keeps working', async () => {
  // The file: 1,000,000 × 768 float16, 1.5 GB, whose float32 array (3 GB) and bytes
  // never fit in wasm32's memory together. Real size, zero body (never touched).
  const header = npyHeader('<f2', 1_000_000, 768);
  const file = new Uint8Array(header.length + 1_000_000 * 768 * 2);
  file.set(header);
  const started = performance.now();
  await assert.rejects(readNpy(file), (e) => {
    code('ERR_TOO_LARGE')(e);
    assert.match(e.message, /1,000,000 × 768 float16/);
    assert.match(e.message, /2\.86 GiB \(3,072,000,000 bytes\) as float32/);
    assert.match(e.message, /cap of 1 GiB/);
    assert.match(e.message, /encodeStream\(encoder, source\)/);
    assert.match(e.message, /maxBytes/);
    return true;
  });
  assert.ok(performance.now() - started < 2000, 'refused from the header, without reading the body');
  // A lower cap (an option users may set too) on the real sample: 2,000 × 768 float32 = 6 MB.
  await assert.rejects(readNpy(sampleBytes, { maxBytes: 1_000_000 }), (e) => code('ERR_TOO_LARGE')(e) && /2,000 × 768 float32/.test(e.message));
  await assert.rejects(readNpy(sampleBytes, { maxBytes: 2 ** 31 }), code('ERR_OPTION'));
  await assert.rejects(readNpy(sampleBytes, { maxBytes: 0 }), code('ERR_OPTION'));
  // The file's size is still checked against its header first, with the CLI's messages.
  await assert.rejects(readNpy(file.subarray(0, file.length - 2)), (e) => code('ERR_NPY')(e) && /truncated|expected|bytes/i.test(e.message));
  await assert.rejects(readNpy(new Uint8Array(20)), code('ERR_NPY'));
  // Still working, with the same values as before.
  const again = await readNpy(sampleBytes, { maxBytes: 6_144_000 });
  assert.deepEqual([again.rows, again.dim, again.dtype], [2000, 768, 'float32']);
  assert.deepEqual(again.data, sample.data);
  const encoder = await Encoder.loadDefault();
  assert.deepEqual(Array.from(await encoder.encode(again.data)), native);
  encoder.free();
});

test('batchSize is capped at 65,536 rows per call: larger is refused, and rows past one call are still refused early', async () => {
  const encoder = await Encoder.loadDefault();
  const rows = sample.data.subarray(0, 10 * 768);
  await assert.rejects(encoder.encode(rows, { batchSize: 65_537 }), (e) => code('ERR_OPTION')(e) && /from 1 to 65,536/.test(e.message));
  await assert.rejects(encoder.decode(new Uint16Array(3), { batchSize: 1e6 }), code('ERR_OPTION'));
  assert.equal((await encoder.encode(rows, { batchSize: 65_536 })).length, 30);
  // reassignChanged cannot be batched: more rows than one call takes are refused before any
  // copy (65,537 zero rows, lazily allocated).
  const table = await IdTable.create(encoder);
  await assert.rejects(table.add(encoder, new Float32Array(65_537 * 768), { reassignChanged: true }), (e) => {
    code('ERR_TOO_LARGE')(e);
    assert.match(e.message, /65,537 rows with reassignChanged/);
    assert.match(e.message, /at most 65,536 rows/);
    return true;
  });
  await assert.rejects(table.add(encoder, rows, { batchSize: 65_537 }), code('ERR_OPTION'));
  assert.equal(table.size, 0);
  table.free();
  encoder.free();
});

test('decode in batches gives the values of one call, for a few thousand IDs; bad IDs are named over the whole array', async () => {
  const encoder = await Encoder.loadDefault();
  const { recon } = nativeEncode();
  // 3,000 rows: the sample's IDs, then its first 1,000 again.
  const all = Uint16Array.from([...native, ...native.slice(0, 3000)]);
  const whole = await encoder.decode(all, { batchSize: 65_536 });
  const batched = await encoder.decode(all, { batchSize: 700 });
  assert.equal(batched.length, 3000 * 768);
  assert.deepEqual(batched, whole);
  assert.deepEqual(await encoder.decode(Array.from(all)), whole);
  // The reconstructions are the native ones (the same f32 arithmetic), row by row.
  let worst = 0;
  for (let i = 0; i < recon.length; i++) worst = Math.max(worst, Math.abs(recon[i] - batched[i]));
  assert.ok(worst < 1e-5, `largest difference from native reconstructions: ${worst}`);
  assert.deepEqual(batched.subarray(2000 * 768), batched.subarray(0, 1000 * 768));
  const bad = all.slice();
  bad[2500 * 3 + 1] = 300;
  await assert.rejects(encoder.decode(bad, { batchSize: 700 }), (e) => code('ERR_ID_RANGE')(e) && /ID 300 at row 2500, level 1/.test(e.message));
  await assert.rejects(encoder.decode(all.subarray(0, 7)), (e) => code('ERR_ID_RANGE')(e) && /^7 IDs are not a whole number of rows of 3 levels$/.test(e.message));
  encoder.free();
});

/** The report of `add` in one call and in batches: the same table, the same report up to float rounding. */
async function assertSameAdd(encoder, start, rows, options) {
  const load = async () => (start ? IdTable.load(start) : IdTable.create(encoder));
  const one = await load();
  const many = await load();
  const reportOne = await one.add(encoder, rows, options);
  const reportMany = await many.add(encoder, rows, { ...options, batchSize: 128 });
  assert.equal(many.toJsonl(), one.toJsonl(), 'the same table');
  const { cost: costOne, ...countsOne } = reportOne;
  const { cost: costMany, ...countsMany } = reportMany;
  assert.deepEqual(countsMany, countsOne);
  for (const key of Object.keys(costOne)) {
    assert.ok(Math.abs(costMany[key] - costOne[key]) < 1e-12, `${key}: ${costMany[key]} vs ${costOne[key]}`);
  }
  one.free();
  many.free();
  return reportOne;
}

test('IdTable.add in batches gives the table and report of one call; refusals name rows over the whole input and leave the table as it was', async () => {
  const encoder = await Encoder.loadDefault();
  const first = await assertSameAdd(encoder, undefined, sample.data, { ids });
  assert.ok(first.moved > 0 && first.cost.movedCosineNearest > 0);
  // Growing a table: rows 1,000–1,999 new, 500–999 kept, of which 100 now have other
  // embeddings (rows 1,500–1,599's), so their nearest codes changed.
  const { table: base } = await IdTable.assign(encoder, sample.data.subarray(0, 1000 * 768), { ids: ids.slice(0, 1000) });
  const saved = base.toJsonl();
  const grown = sample.data.slice(500 * 768);
  grown.copyWithin(0, 1000 * 768, 1100 * 768);
  const report = await assertSameAdd(encoder, saved, grown, { ids: ids.slice(500) });
  assert.equal(report.kept, 500);
  assert.equal(report.added, 1000);
  assert.ok(report.changed.length > 50, `changed: ${report.changed.length}`);
  // Without ids: row numbers counted on from the table's size.
  const numbered = await IdTable.assign(encoder, sample.data.subarray(0, 300 * 768));
  await assertSameAdd(encoder, numbered.table.toJsonl(), sample.data.subarray(300 * 768, 1000 * 768), {});
  // Refusals, before any batch: the table is unchanged.
  const before = base.toJsonl();
  const nan = sample.data.slice(1000 * 768);
  nan[900 * 768 + 7] = NaN;
  await assert.rejects(base.add(encoder, nan, { ids: ids.slice(1000), batchSize: 128 }), (e) => code('ERR_NON_FINITE')(e) && e.message === 'row 900, column 7 is NaN: embeddings must be finite numbers');
  const twice = ids.slice(1000);
  twice[700] = twice[10];
  await assert.rejects(base.add(encoder, sample.data.subarray(1000 * 768), { ids: twice, batchSize: 128 }), (e) => code('ERR_IDS')(e) && e.message === `id ${JSON.stringify(twice[10])} is given to rows 10 and 700; ids must be unique`);
  const taken = await IdTable.load(numbered.table.toJsonl());
  await taken.add(encoder, sample.data.subarray(0, 768), { ids: [500] });
  await assert.rejects(taken.add(encoder, sample.data.subarray(0, 700 * 768), { batchSize: 128 }), (e) => code('ERR_IDS')(e) && /numbered from 301 .* id 500 is already in the table/.test(e.message));
  assert.equal(base.toJsonl(), before);
  assert.equal(taken.size, 301);
  for (const t of [base, numbered.table, taken]) t.free();
  encoder.free();
});

test('a real trap restarts the module: encoders keep working with native IDs, tables made before are lost with a typed error', { timeout: 60_000 }, async () => {
  const encoder = await Encoder.loadDefault();
  const { table } = await IdTable.assign(encoder, sample.data.subarray(0, 100 * 768), { ids: ids.slice(0, 100) });
  const saved = table.toJsonl();
  // The running instance (the glue's init returns it once loaded), its memory grown to over
  // 300 MB by one large call: wasm memory never shrinks, only a new instance gives it back.
  const before = await init();
  f16ToF32(new Uint16Array(50_000_000));
  const grown = before.memory.buffer.byteLength;
  assert.ok(grown >= 300e6, `memory after a large call: ${grown}`);

  // 1. A trap in a raw call of the same instance, outside the package's calls (as a bug in a
  //    caller of the glue would make it), in the middle of an encode: the encode's next batch
  //    runs in a fresh instance, on a Rust object rebuilt from the weights.
  const raw = new WasmEncoder(modelBytes);
  let trapped;
  const ids1 = await encoder.encode(sample.data, {
    batchSize: 100,
    onProgress: ({ done }) => {
      if (done !== 1000) return;
      try {
        raw.encodeCpu(trapRows(), 768, 0);
      } catch (e) {
        trapped = e;
      }
    },
  });
  assert.ok(trapped instanceof WebAssembly.RuntimeError, `the raw call trapped: ${trapped}`);
  assert.equal(trapped.message, 'unreachable');
  assert.deepEqual(Array.from(ids1), native, 'IDs across the trap equal native ones');

  // 2. A trap in a package call that skipped the caps: that call rejects typed, not bare.
  const call = wasmEncoders.get(encoder);
  await assert.rejects(call('encode', (inner) => inner.encodeCpu(trapRows(), 768, 0)), (e) => {
    code('ERR_WASM_TRAP')(e);
    assert.ok(!(e instanceof WebAssembly.RuntimeError));
    assert.ok(e.cause instanceof WebAssembly.RuntimeError);
    assert.match(e.message, /^the wasm module trapped during encode \(RuntimeError: unreachable\): most likely an allocation/);
    assert.match(e.message, /restarted/);
    return true;
  });

  // 3. Later public calls work: the same encoder, a new one, readNpy, decode, a new table.
  assert.deepEqual(Array.from(await encoder.encode(sample.data)), native);
  const fresh = await Encoder.load(modelBytes);
  assert.deepEqual(Array.from(await fresh.encode(sample.data, { batchSize: 512 })), native);
  assert.deepEqual((await readNpy(sampleBytes)).data, sample.data);
  assert.equal((await encoder.decode(native.slice(0, 30))).length, 10 * 768);
  assert.equal(encoder.fingerprint, fresh.fingerprint);
  const after = await init();
  assert.notEqual(after, before, 'a new instance runs');
  assert.ok(after.memory.buffer.byteLength < grown / 2, `its memory: ${after.memory.buffer.byteLength} (the dead one's: ${grown})`);

  // 4. The table made before the traps is gone: every call says so, typed; its saved JSON
  //    Lines load again and grow as before.
  const lost = (e) => code('ERR_WASM_TRAP')(e) && /this ID table was lost.*IdTable\.load\(saved\)/.test(e.message);
  assert.throws(() => table.size, lost);
  assert.throws(() => table.toJsonl(), lost);
  await assert.rejects(table.add(encoder, sample.data.subarray(100 * 768, 200 * 768), { ids: ids.slice(100, 200) }), lost);
  const reloaded = await IdTable.load(saved);
  assert.equal(reloaded.toJsonl(), saved);
  const { table: oneGo } = await IdTable.assign(encoder, sample.data.subarray(0, 200 * 768), { ids: ids.slice(0, 200) });
  await reloaded.add(fresh, sample.data.subarray(100 * 768, 200 * 768), { ids: ids.slice(100, 200) });
  assert.equal(reloaded.toJsonl(), oneGo.toJsonl());
  table.free();
  assert.throws(() => table.size, code('ERR_FREED'));
  for (const t of [reloaded, oneGo]) t.free();
  raw.__destroy_into_raw();
  encoder.free();
  fresh.free();
});

test('Rust objects of a dead instance are never freed into the new one when collected', { timeout: 60_000 }, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const collect = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(20);
    }
  };
  await readNpy(sampleBytes); // a running instance
  // Objects of this instance, dropped at once: their finalizers are due once it is dead.
  for (let i = 0; i < 10; i++) new WasmEncoder(modelBytes);
  assert.throws(() => new WasmEncoder(modelBytes).encodeCpu(trapRows(), 768, 0), WebAssembly.RuntimeError);
  await readNpy(sampleBytes); // the restarted instance
  const exports = await init();
  const free = exports.__wbg_wasmencoder_free;
  let frees = 0;
  exports.__wbg_wasmencoder_free = (...args) => {
    frees += 1;
    return free(...args);
  };
  await collect();
  assert.equal(frees, 0, 'no object of the dead instance was freed into the new one');
  // The check above can fail: objects of the running instance are freed when collected.
  for (let i = 0; i < 10; i++) new WasmEncoder(modelBytes);
  await collect();
  assert.ok(frees > 0, 'finalizers ran for the new instance\'s objects');
  exports.__wbg_wasmencoder_free = free;
});

test('a trap in a CPU worker rejects that call with ERR_WASM_TRAP, and the worker is replaced', { timeout: 60_000 }, async () => {
  const rows = sample.data.slice(0, 600 * 768);
  const expected = native.slice(0, 600 * 3);
  const pool = await CpuPool.start(2, await compiledWasm(), modelBytes, { workerUrl: new URL('./crashing-cpu-worker.mjs', import.meta.url) });
  const encode = async (values) => {
    const out = new Uint16Array((values.length / 768) * 3);
    await pool.encode(values, { width: 768, isF16: false, batchSize: 100, levels: 3, out });
    return Array.from(out);
  };
  const poisoned = Float32Array.from(rows);
  poisoned[300 * 768] = CRASH_TRAP; // the batch at row 300 traps in its worker's instance
  await assert.rejects(encode(poisoned), (e) => {
    code('ERR_WASM_TRAP')(e);
    assert.match(e.message, /a CPU worker's wasm instance trapped \(RuntimeError: unreachable\)/);
    assert.match(e.message, /starts a new one/);
    return true;
  });
  assert.equal(pool.size, 2);
  assert.deepEqual(await encode(rows), expected, 'after the trap');
  assert.ok(pool.rowsPerWorker.every((r) => r > 0), `both workers work: ${pool.rowsPerWorker}`);
  pool.terminate();
});
