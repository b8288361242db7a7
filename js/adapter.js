// What kind of WebGPU adapter this context has, which is what `'auto'` decides by.
//
// A software adapter (Chromium's SwiftShader, Mesa's lavapipe/llvmpipe, Windows' WARP) runs the
// WGSL kernels on the CPU, slower than the package's SIMD128 kernel at every batch size: 1,024
// rows took 3.4 s on SwiftShader against 36 ms on the CPU path. A hardware adapter wins from a
// few dozen rows: the same kernels on one NVIDIA H200 (native Vulkan) took ~1.6 ms per batch of
// 16 rows and ~2 ms per 256, against ~40 µs per row on the CPU path, so they break even near
// 40 rows.

/** Rows from which `'auto'` encodes on a hardware WebGPU adapter (never on a software one). */
export const AUTO_WEBGPU_MIN_ROWS = 64;

const SOFTWARE = /swiftshader|lavapipe|llvmpipe|softpipe|\bwarp\b|basic render|software/i;

/**
 * 'hardware' or 'software' for a GPUAdapter. `isFallbackAdapter` says it where the browser
 * reports it (on `adapter.info`, or on the adapter in older Chromium); otherwise the adapter's
 * vendor, architecture, device and description are matched against known software rasterisers.
 */
export function adapterKind(adapter) {
  const info = adapter.info ?? {};
  if (info.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return 'software';
  const text = [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => typeof s === 'string')
    .join(' ');
  return SOFTWARE.test(text) ? 'software' : 'hardware';
}

/** 'none', 'software' or 'hardware': this context's WebGPU adapter, if any. */
export async function webgpuAdapterKind() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return 'none';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? adapterKind(adapter) : 'none';
  } catch {
    return 'none';
  }
}

/** Whether this context offers a WebGPU adapter (false in Node.js and browsers without WebGPU). */
export async function webgpuAvailable() {
  return (await webgpuAdapterKind()) !== 'none';
}
