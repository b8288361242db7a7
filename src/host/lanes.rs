//! Four f32 lanes: wasm SIMD128 where the module is built with it, plain arrays elsewhere.
//!
//! Both versions perform the same operations in the same order (a multiply, then an add; never a
//! fused multiply-add), so a native build computes bit for bit what the browser computes. The
//! tests rely on that: native checks of [`crate::host::model`] hold for the wasm module too.
//!
//! [`F32x4::fused_mul_add`] is the exception, for the fast path of
//! [`crate::host::model::HostModel::encode_fast`] only: a fused multiply-add where the hardware has
//! one (`f32x4.relaxed_madd` in the module built with feature `relaxed-simd`, `f32::mul_add`
//! natively), so its sums differ from the canonical ones in the last bits and that path re-decides
//! near-ties canonically. Where no fused operation is used ([`FUSED`] false) it is `mul_add`.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self(f32x4_splat(0.0))
        }
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            Self(f32x4_splat(v))
        }
        /// # Safety
        /// `p` must point at four readable f32 (any alignment).
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(v128_load(p as *const v128))
        }
        /// # Safety
        /// `p` must point at four writable f32 (any alignment).
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        /// `self + a·b`, rounded after the product and after the sum.
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }
        /// `self + a·b`, fused where the engine fuses `relaxed_madd` (one rounding), else as
        /// [`Self::mul_add`]. Callers enable `relaxed-simd` too, so that this is inlined.
        #[cfg(feature = "relaxed-simd")]
        #[inline]
        #[target_feature(enable = "relaxed-simd")]
        pub fn fused_mul_add(self, a: Self, b: Self) -> Self {
            Self(f32x4_relaxed_madd(a.0, b.0, self.0))
        }
        #[cfg(not(feature = "relaxed-simd"))]
        #[inline(always)]
        pub fn fused_mul_add(self, a: Self, b: Self) -> Self {
            self.mul_add(a, b)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(f32x4_add(self.0, o.0))
        }
        /// ReLU. Inputs are finite (checked at the API), so NaN handling does not arise.
        #[inline(always)]
        pub fn relu(self) -> Self {
            Self(f32x4_pmax(self.0, f32x4_splat(0.0)))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self([0.0; 4])
        }
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            Self([v; 4])
        }
        /// # Safety
        /// `p` must point at four readable f32 (any alignment).
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(p.cast::<[f32; 4]>().read_unaligned())
        }
        /// # Safety
        /// `p` must point at four writable f32 (any alignment).
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            p.cast::<[f32; 4]>().write_unaligned(self.0)
        }
        /// `self + a·b`, rounded after the product and after the sum.
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(std::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
        }
        /// `self + a·b` with one rounding: the native stand-in for `relaxed_madd`, so that the
        /// native tests exercise the fast path's tie handling.
        #[inline(always)]
        pub fn fused_mul_add(self, a: Self, b: Self) -> Self {
            Self(std::array::from_fn(|i| a.0[i].mul_add(b.0[i], self.0[i])))
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(std::array::from_fn(|i| self.0[i] + o.0[i]))
        }
        #[inline(always)]
        pub fn relu(self) -> Self {
            Self(self.0.map(|v| if v < 0.0 { 0.0 } else { v }))
        }
    }
}

pub use imp::F32x4;

/// Whether [`F32x4::fused_mul_add`] differs from [`F32x4::mul_add`]: everywhere but a wasm
/// module built without feature `relaxed-simd`.
pub const FUSED: bool = cfg!(any(
    not(all(target_arch = "wasm32", target_feature = "simd128")),
    feature = "relaxed-simd"
));
