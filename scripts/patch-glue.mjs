#!/usr/bin/env node
// Post-processes wasm-bindgen's glue (pkg/rqvae.js) so that the package can replace a wasm
// instance that trapped with a fresh one (js/wasm.js). scripts/build-wasm.sh runs it right after
// wasm-bindgen; it is idempotent (a patched file is checked and left as it is).
//
// Why: a trap (`unreachable` from Rust's allocation-failure abort, an out-of-bounds access, …)
// leaves the instance's memory, stack pointer and allocator in whatever state they were in, so
// every later call is suspect; and the generated glue cannot load a second instance, since
// `__wbg_init` returns early once `wasm` is set and the module caches views of the old memory.
// What it adds:
//   - `__rqvae_reset()`: forgets the instance and every cache of it, so that
//     `init({ module_or_path: compiledModule })` instantiates afresh;
//   - `__rqvae_on_trap(listener)`: every export of the instance is wrapped so that a
//     WebAssembly.RuntimeError thrown by any call (the package's, a wasm-bindgen future's
//     callback, a test's raw call) tells the listener, which schedules the restart;
//   - FinalizationRegistry entries that remember their instance: a Rust object of the dead
//     instance collected later is never "freed" into the new one (its pointer means nothing
//     there), and closures of the dead instance never run against the new one.
//
// The glue is edited by exact text: if wasm-bindgen changes its output, this script fails and
// names what it could not find, rather than produce glue that resets half of its state.
//
// Usage: node scripts/patch-glue.mjs [pkg/rqvae.js]

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKER = '// rqvae: trap recovery (scripts/patch-glue.mjs)';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'pkg', 'rqvae.js');
const typesFile = file.replace(/\.js$/, '.d.ts');

function fail(message) {
  console.error(`patch-glue: ${file}: ${message}. wasm-bindgen's glue changed shape: update scripts/patch-glue.mjs to match it.`);
  process.exit(1);
}

/** Replaces the one occurrence of `from` (exactly `count` occurrences where given). */
function replaceExact(text, from, to, what, count = 1) {
  const found = text.split(from).length - 1;
  if (found !== count) fail(`expected ${count} occurrence(s) of ${what} (${JSON.stringify(from)}), found ${found}`);
  return text.split(from).join(to);
}

/**
 * The glue's module-level `let` bindings, each of which the reset must either clear or know to
 * be independent of the instance. A binding this list does not know fails the patch: it might
 * cache something of the old instance.
 */
const KNOWN_STATE = {
  wasmModule: 'undefined',
  wasmInstance: 'undefined',
  wasm: 'undefined',
  __wbg_init_promise: 'undefined',
  // Memory views: the new instance has another memory.
  cachedDataViewMemory0: 'null',
  cachedFloat32ArrayMemory0: 'null',
  cachedUint16ArrayMemory0: 'null',
  cachedUint32ArrayMemory0: 'null',
  cachedUint8ArrayMemory0: 'null',
  // Scratch of the last argument copy, set before every use.
  WASM_VECTOR_LEN: '0',
  // A TextDecoder and the byte count after which Safari needs a new one: no instance in them.
  cachedTextDecoder: null,
  numBytesDecoded: null,
};

function stateNames(text) {
  const names = [];
  for (const m of text.matchAll(/^let ([^=;\n]+?)\s*(?:=[^\n]*)?;$/gm)) {
    for (const name of m[1].split(',')) names.push(name.trim());
  }
  return names;
}

function checkPatched(text) {
  for (const needle of ['export function __rqvae_reset()', 'export function __rqvae_on_trap(', 'wasm = __rqvae_guard(instance.exports);', 'if (wasm !== instance) return;']) {
    if (!text.includes(needle)) fail(`it carries the patch marker but lacks ${JSON.stringify(needle)}; rebuild pkg/ (npm run build)`);
  }
  if (text.includes('new FinalizationRegistry(ptr') || text.includes('new FinalizationRegistry(state')) {
    fail('it carries the patch marker but still has an unpatched FinalizationRegistry');
  }
}

function patch(text) {
  const names = stateNames(text);
  const unknown = names.filter((n) => !(n in KNOWN_STATE));
  if (unknown.length > 0) fail(`unknown module-level state ${unknown.map((n) => `\`let ${n}\``).join(', ')}: decide whether the reset must clear it`);
  const missing = Object.keys(KNOWN_STATE).filter((n) => KNOWN_STATE[n] !== null && !names.includes(n));
  // A cache that is gone is fine for the reset (nothing to clear), but `wasm` and the init
  // promise are what the whole patch is about.
  for (const n of ['wasm', '__wbg_init_promise']) if (missing.includes(n)) fail(`no \`let ${n}\``);
  const cleared = names.filter((n) => KNOWN_STATE[n] !== null);

  // Every export wrapped, so that a trap anywhere is seen.
  let out = replaceExact(text, '    wasm = instance.exports;\n', '    wasm = __rqvae_guard(instance.exports);\n', "__wbg_finalize_init's `wasm = instance.exports;`");

  // Registries whose entries remember their instance (the three classes' and the closures').
  const registries = (text.match(/new FinalizationRegistry\(/g) ?? []).length;
  if (registries < 1) fail('no FinalizationRegistry');
  out = replaceExact(out, '    : new FinalizationRegistry(', '    : __rqvae_registry(', 'the registries (`: new FinalizationRegistry(`)', registries);

  // A closure of a dead instance must not call into the new one: its pointers mean nothing there.
  out = replaceExact(
    out,
    'function makeMutClosure(arg0, arg1, f) {\n    const state = { a: arg0, b: arg1, cnt: 1 };\n    const real = (...args) => {\n',
    'function makeMutClosure(arg0, arg1, f) {\n    const state = { a: arg0, b: arg1, cnt: 1 };\n    const instance = wasm;\n    const real = (...args) => {\n        if (wasm !== instance) return;\n',
    'makeMutClosure',
  );
  out = replaceExact(
    out,
    '    real._wbg_cb_unref = () => {\n        if (--state.cnt === 0) {\n',
    '    real._wbg_cb_unref = () => {\n        if (wasm !== instance) return;\n        if (--state.cnt === 0) {\n',
    "makeMutClosure's `_wbg_cb_unref`",
  );

  const resets = cleared.map((n) => `    ${n} = ${KNOWN_STATE[n]};`).join('\n');
  out += `
${MARKER}
// A trap leaves an instance unusable; js/wasm.js swaps in a fresh one from the same compiled
// module. See scripts/patch-glue.mjs for why each of these exists.

let __rqvae_trap_listener;

/** The instance's exports, each function wrapped to report a trap before rethrowing it. */
function __rqvae_guard(exports) {
    const guarded = {};
    for (const [name, value] of Object.entries(exports)) {
        guarded[name] = typeof value !== 'function' ? value : function (...args) {
            try {
                return value(...args);
            } catch (e) {
                if (e instanceof WebAssembly.RuntimeError && wasm === guarded) __rqvae_trap_listener?.(e);
                throw e;
            }
        };
    }
    return guarded;
}

/** A FinalizationRegistry whose cleanup runs only while the instance it was registered in lives. */
function __rqvae_registry(cleanup) {
    const registry = new FinalizationRegistry(({ held, instance }) => {
        if (instance === wasm) cleanup(held);
    });
    return {
        register: (target, held, token) => registry.register(target, { held, instance: wasm }, token),
        unregister: (token) => registry.unregister(token),
    };
}

/** Calls \`listener(error)\` (synchronously, inside the failing call) whenever an export traps. */
export function __rqvae_on_trap(listener) {
    __rqvae_trap_listener = listener;
}

/**
 * Forgets the instance and everything cached from it, so that the next \`init\` instantiates
 * afresh. Objects of the old instance must not be used afterwards: release them with
 * \`__destroy_into_raw()\` (which calls nothing in wasm).
 */
export function __rqvae_reset() {
${resets}
}
`;
  return out;
}

const TYPES = `
// rqvae: trap recovery (scripts/patch-glue.mjs)
export function __rqvae_on_trap(listener: (error: WebAssembly.RuntimeError) => void): void;
export function __rqvae_reset(): void;
`;

const text = readFileSync(file, 'utf8');
if (text.includes(MARKER)) {
  checkPatched(text);
  console.log(`patch-glue: ${file} is already patched`);
} else {
  const out = patch(text);
  checkPatched(out);
  writeFileSync(file, out);
  console.log(`patch-glue: patched ${file}`);
}
try {
  const types = readFileSync(typesFile, 'utf8');
  if (!types.includes('__rqvae_reset')) writeFileSync(typesFile, types + TYPES);
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
