//! Choosing the compute backend at run time: CPU always, CUDA when built with `--features cuda`.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// burn's ndarray backend on the CPU (multi-threaded).
    Cpu,
    /// NVIDIA GPU through burn's CUDA backend (build with --features cuda; needs CUDA_PATH).
    Cuda,
}

pub type Cpu = burn::backend::NdArray<f32>;
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// Calls `$body` with `B` bound to the chosen backend type and `device` to its device.
#[macro_export]
macro_rules! with_backend {
    ($kind:expr, |$b:ident, $device:ident| $body:expr) => {{
        match $kind {
            $crate::backend::BackendKind::Cpu => {
                type $b = $crate::backend::Cpu;
                let $device = burn::backend::ndarray::NdArrayDevice::Cpu;
                $body
            }
            $crate::backend::BackendKind::Cuda => {
                #[cfg(feature = "cuda")]
                {
                    $crate::backend::check_cuda_env()?;
                    $crate::backend::configure_kernel_cache();
                    type $b = $crate::backend::Cuda;
                    let $device = burn::backend::cuda::CudaDevice::default();
                    $body
                }
                #[cfg(not(feature = "cuda"))]
                {
                    anyhow::bail!(
                        "this rqvae-train was built without CUDA; rebuild with \
                         `cargo build --release -p rqvae-train --features cuda`"
                    )
                }
            }
        }
    }};
}

/// cubecl compiles CUDA kernels at run time with NVRTC, which needs the CUDA headers: fail with a
/// message instead of a panic deep inside the first kernel launch.
#[cfg(feature = "cuda")]
pub fn check_cuda_env() -> anyhow::Result<()> {
    match std::env::var_os("CUDA_PATH") {
        Some(p) if std::path::Path::new(&p).join("include").is_dir() => Ok(()),
        Some(p) => anyhow::bail!(
            "CUDA_PATH={} has no include/ directory; point it at a CUDA toolkit (e.g. \
             export CUDA_PATH=$(dirname $(dirname $(which nvcc))))",
            std::path::Path::new(&p).display()
        ),
        None => anyhow::bail!(
            "the CUDA backend needs CUDA_PATH set to a CUDA toolkit with headers (e.g. \
             export CUDA_PATH=$(dirname $(dirname $(which nvcc))))"
        ),
    }
}

/// Where compiled CUDA kernels and autotune results are kept between runs: `RQVAE_KERNEL_CACHE`,
/// else `$XDG_CACHE_HOME/rqvae/cuda`, else `~/.cache/rqvae/cuda`; `RQVAE_KERNEL_CACHE=off`
/// disables it.
#[cfg(feature = "cuda")]
pub fn kernel_cache_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    match std::env::var_os("RQVAE_KERNEL_CACHE") {
        Some(v) if v == "off" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("rqvae").join("cuda")),
    }
}

/// cubecl compiles every kernel with NVRTC on first use (about 7 s of a run's first epoch) and
/// keeps nothing by default. Pointing its compilation and autotune caches at a directory makes
/// later runs load the compiled kernels instead. A `cubecl.toml` that names a cache wins. Runs once
/// per process, before the first CUDA device is created; a directory that cannot be written leaves
/// the caches off (cubecl would panic on it), with a warning.
#[cfg(feature = "cuda")]
pub fn configure_kernel_cache() {
    use burn::cubecl::config::{cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if let Some(dir) = kernel_cache_dir() {
            let writable = std::fs::create_dir_all(&dir).is_ok() && tempfile_probe(&dir).is_ok();
            if writable {
                if config.compilation.cache.is_none() {
                    config.compilation.cache = Some(CacheConfig::File(dir.clone()));
                }
                if matches!(config.autotune.cache, CacheConfig::Target) {
                    config.autotune.cache = CacheConfig::File(dir);
                }
            } else {
                eprintln!(
                    "warning: kernel cache {} is not writable; CUDA kernels will be compiled \
                     afresh (set RQVAE_KERNEL_CACHE to another directory, or to off)",
                    dir.display()
                );
            }
        }
        CubeClRuntimeConfig::set(config);
    });
}

#[cfg(feature = "cuda")]
fn tempfile_probe(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}
