//! Helpers shared by the integration tests (a module, not a test crate of its own).

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
