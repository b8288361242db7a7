// Which of the package's two wasm modules an engine can run. Relaxed SIMD is validated as a whole
// module, so an engine without it could not even compile the faster build: the choice is made
// before loading, by validating a minimal module that uses one relaxed instruction.

/**
 * `(func (drop (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))`, the probe
 * wasm-feature-detect uses for relaxed SIMD.
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: one type, () -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3e, 0x01, 0x3c, 0x00, // code section: one body of 60 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // 3 × v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 261)
  0x1a, 0x0b, // drop, end
]);

let relaxed;

/** Whether this engine runs relaxed SIMD (Chromium 114+, Firefox 120+, Node.js 22+; Node.js 20 with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported() {
  relaxed ??= WebAssembly.validate(RELAXED_SIMD_PROBE);
  return relaxed;
}
