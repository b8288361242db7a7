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
