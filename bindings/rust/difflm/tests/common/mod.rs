//! What the tests share: the model they load. Used by the integration tests
//! (`mod common;`) and by the unit tests in src/ (lib.rs includes this file under
//! `#[cfg(test)]`).
use std::path::{Path, PathBuf};

/// DIFFLM_TEST_MODEL when it is set and not empty (meson sets a tiny random model);
/// otherwise the repository's own model, models/difflm-default.gguf, found from this
/// crate's manifest directory (bindings/rust/difflm).
pub fn test_model() -> PathBuf {
    if let Some(p) = std::env::var_os("DIFFLM_TEST_MODEL") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("..")
        .join("models")
        .join("difflm-default.gguf");
    assert!(
        path.is_file(),
        "DIFFLM_TEST_MODEL is unset and the repository's model is not at {}",
        path.display()
    );
    path
}
