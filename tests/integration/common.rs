//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// A path under the system temp dir that no other test or run uses: process id and clock.
pub fn unique_temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "rqvae-test-{}-{}-{name}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

/// The largest `|a[i] − b[i]|`, NaN if any difference is NaN, so that `assert!(d < tol)` fails
/// on a NaN instead of `fold(0.0, f32::max)` quietly skipping it. Slices of different lengths
/// fail here rather than being compared up to the shorter one.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m, d| {
            if d.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(d)
            }
        })
}
