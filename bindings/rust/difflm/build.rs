//! Gives this crate's tests and examples the run path of the libdifflm that difflm-sys
//! linked (DEP_DIFFLM_LIB_DIR), so `cargo test` and `cargo run --example` need no
//! LD_LIBRARY_PATH. Crates that depend on difflm are not affected.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_DIFFLM_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_DIFFLM_LIB_DIR") {
        if !dir.starts_with("/usr/lib") && !dir.starts_with("/lib") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
        }
    }
}
