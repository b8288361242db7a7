//! Four f32 lanes: wasm SIMD128 where the module is built with it, plain arrays elsewhere.
//!
//! Both versions perform the same operations in the same order (a multiply, then an add; never a
//! fused multiply-add), so a native build computes bit for bit what the browser computes. The
//! tests rely on that: native checks of [`crate::host_model`] hold for the wasm module too.

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
