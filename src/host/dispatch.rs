//! One function body compiled for AVX-512, for AVX2 and for the build's baseline, the widest the
//! CPU runs chosen at run time: x86-64's baseline is SSE2, and the loops that are not matrix
//! products (the text encoder's GELU and LayerNorm, the training engine's bias, ReLU and
//! gradient passes) would otherwise run at a quarter of the width the products get.

/// Defines `pub fn` whose body is compiled for AVX-512, for AVX2, and for the build's baseline,
/// the first the CPU has being run. The body is the same code each time: only the vector width
/// changes, and since Rust never contracts `a * b + c` into a fused multiply-add, every variant
/// computes the same bits.
macro_rules! dispatch {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
                unsafe fn wide($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature the function is compiled for.
                    return unsafe { wide($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use dispatch;
